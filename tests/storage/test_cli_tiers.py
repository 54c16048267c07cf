"""The tiers from the shell: status, drain, the notice feed, reconcile and repair."""

from __future__ import annotations

import re

from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from jukibridge.tier_tables import NationalIdentity, PrefectureIdentity
from tests.storage.conftest import Jpki
from tests.storage.helpers import arrive


def _row(output: str, source: str) -> list[str]:
    """The cells of the table row whose first cell is ``source``."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line) if cell.strip()]
        if cells and cells[0] == source:
            return cells
    raise AssertionError(f"no row {source} in\n{output}")


def test_status_shows_the_lag_until_drained(jpki: Jpki, register: Register) -> None:
    code = arrive(register)
    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    pending = _row(jpki("tiers", "status").output, "cs:112089")
    assert pending[:5] == ["cs:112089", "prefecture:11", "2", "0", "2"]
    assert pending[5].endswith(" s")
    assert "4 events delivered" in jpki("tiers", "drain").output
    drained = jpki("tiers", "status").output
    assert _row(drained, "cs:112089")[:5] == ["cs:112089", "prefecture:11", "2", "2", "0"]
    assert _row(drained, "prefecture:11")[:5] == ["prefecture:11", "national", "2", "2", "0"]
    assert "1 notices" in drained
    feed = jpki("tiers", "notices").output
    assert "basic_four_changed" in feed and code in feed and "RELOCATION" in feed


def test_reconcile_reports_and_repairs_drift(jpki: Jpki, register: Register,
                                             sessions: sessionmaker[Session]) -> None:
    kept = arrive(register)
    lost = arrive(register, name="佐藤　次郎", kana="サトウ　ジロウ", birth="1970-02-03")
    jpki("tiers", "drain")
    assert "2 records checked, 0 differences" in jpki("tiers", "reconcile", "112089").output
    with sessions() as session, session.begin():  # the upper stores drift from the register
        session.execute(delete(PrefectureIdentity).where(PrefectureIdentity.resident_code == lost))
        session.execute(update(NationalIdentity).where(NationalIdentity.resident_code == kept)
                        .values(address="どこか"))
    result = jpki("tiers", "reconcile", "112089", ok=False)
    assert result.exit_code == 1
    assert f"{lost} prefecture: missing" in result.output
    assert f"{kept} national: differs: address" in result.output
    assert "2 re-sent" in jpki("tiers", "reconcile", "112089", "--repair").output
    jpki("tiers", "drain")
    assert "0 differences" in jpki("tiers", "reconcile", "112089").output
    feed = jpki("tiers", "notices").output
    assert "RESYNC" in feed and kept in feed, "an address that differed upstream is a change"


def test_reconcile_of_an_unknown_municipality_is_one_clear_line(jpki: Jpki) -> None:
    result = jpki("tiers", "reconcile", "142034", ok=False)
    assert result.exit_code == 1 and "keeps no register here" in result.output
