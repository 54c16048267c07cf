"""Provision of identity info to agencies (本人確認情報の提供) and its disclosure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import provision, workers
from jukibridge.change_requests import Death, ResidentCodeChange
from jukibridge.codes import is_valid_individual_number
from jukibridge.errors import InvalidInput, NotFound, PermissionDenied
from jukibridge.provision import BasicFourQuery, Outcome
from jukibridge.provision_tables import ProvisionLogEntry, ProvisionPurpose
from jukibridge.records import Sex
from jukibridge.register import Register
from jukibridge.tier_tables import NationalIdentity
from pki.clock import FrozenClock
from tests.storage.helpers import arrive
from web import cli_provision

PENSION = {"agency": "japan-pension-service", "purpose_id": "pension-status-check"}
PASSPORT = {"agency": "tokyo-governor", "purpose_id": "passport-correction-tokyo"}
PRIVATE = {"agency": "example-bank", "purpose_id": "private-example"}


@pytest.fixture
def loaded(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The shipped purposes plus a private party's purpose (none is shipped)."""
    with sessions() as session, session.begin():
        provision.load_purposes(session)
        session.add(ProvisionPurpose(
            purpose_id=PRIVATE["purpose_id"], agency=PRIVATE["agency"], agency_name="例示銀行",
            agency_kind="private", task="口座開設時の本人確認（試験用）", legal_basis="試験用",
            individual_number=True))
    return sessions


def _log(sessions: sessionmaker[Session]) -> list[ProvisionLogEntry]:
    with sessions() as session:
        return list(session.scalars(select(ProvisionLogEntry).order_by(ProvisionLogEntry.log_id)))


def _national(sessions: sessionmaker[Session], code: str) -> NationalIdentity:
    with sessions() as session:
        return session.scalars(select(NationalIdentity).where(
            NationalIdentity.resident_code == code)).one()


def _all_rows(sessions: sessionmaker[Session]) -> dict[str, list[str]]:
    """Every row of every table, to prove what changed and what was stored."""
    tables = ProvisionLogEntry.metadata.tables
    with sessions() as session:
        names = inspect(session.get_bind()).get_table_names()
        return {name: sorted(repr(tuple(row)) for row in session.execute(select(tables[name])))
                for name in names if name in tables}


def test_the_shipped_purposes_load_once(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        added = provision.load_purposes(session)
    with sessions() as session, session.begin():
        assert provision.load_purposes(session) == 0
    table = {p.purpose_id: p for p in provision.purposes(sessions)}
    assert added == len(table) >= 10
    pension = table["pension-status-check"]
    assert pension.agency_name == "日本年金機構" and "現況" in pension.task
    assert pension.legal_basis.startswith("住民基本台帳法第30条の9・別表第一")
    assert pension.individual_number
    assert {"旅券法", "建設業法", "児童扶養手当法"} <= {
        p.legal_basis.split("（")[1].rstrip("）") for p in table.values()}
    assert not table["passport-correction-tokyo"].individual_number
    assert all(p.agency_kind is not provision.AgencyKind.PRIVATE for p in table.values())


def test_an_agency_gets_identity_info_by_resident_code_and_it_is_logged(
        register: Register, loaded: sessionmaker[Session], clock: FrozenClock) -> None:
    code = arrive(register)
    workers.drain(loaded, clock)
    given = provision.request(loaded, clock, resident_code=code, **PENSION)
    identity = given.identity
    assert (identity.resident_code, identity.name, identity.sex) == (code, "山田　花子", 2)
    assert identity.address == "埼玉県所沢市並木三丁目1番1号"
    assert identity.birth_date == "419900503" and not identity.removed
    assert identity.individual_number is not None
    assert is_valid_individual_number(identity.individual_number)
    assert identity.individual_number == _national(loaded, code).individual_number
    (entry,) = _log(loaded)
    assert entry.log_id == given.log_id and entry.at == clock.now()
    assert (entry.agency, entry.purpose_id, entry.outcome) == (
        "japan-pension-service", "pension-status-check", "provided")
    assert entry.legal_basis == given.purpose.legal_basis
    assert entry.lookup == "resident_code" and entry.subject_resident_code == code
    assert json.loads(entry.fields) == list(given.fields)
    assert {"resident_code", "individual_number", "name", "birth_date", "sex", "address",
            "removed"} <= set(given.fields)
    assert "former_surname" not in given.fields, "only items that have a value are given"
    assert entry.masked_number == "********" + identity.individual_number[-4:]


def test_a_basic_four_search_finds_one_resident(register: Register,
                                               loaded: sessionmaker[Session],
                                               clock: FrozenClock) -> None:
    here = arrive(register)
    there = arrive(register, address="東町5番8号")  # same name and birth date
    arrive(register, name="山田　太郎", kana="ヤマダ　タロウ", sex=Sex.MALE, join=here,
           relationship="夫")
    workers.drain(loaded, clock)
    given = provision.request(loaded, clock, query=BasicFourQuery(
        name="山田 花子", birth_date="平成2年5月3日", sex=2, address="埼玉県所沢市東町５番８号"),
        **PASSPORT)
    assert given.identity.resident_code == there
    assert given.identity.individual_number is None, "the passport task gets no number"
    assert "individual_number" not in given.fields
    with pytest.raises(InvalidInput, match="several residents match"):
        provision.request(loaded, clock, query=BasicFourQuery(
            name="山田　花子", birth_date="1990-05-03"), **PASSPORT)
    with pytest.raises(NotFound):
        provision.request(loaded, clock, query=BasicFourQuery(
            name="山田　花子", birth_date="1990-05-04"), **PASSPORT)
    found, ambiguous, missing = _log(loaded)
    assert (found.lookup, found.subject_resident_code, found.masked_number) == (
        "basic_four", there, None)
    assert (ambiguous.outcome, ambiguous.subject_resident_code, ambiguous.fields) == (
        "ambiguous", None, "[]")
    assert (missing.outcome, missing.legal_basis) == ("not_found", found.legal_basis)


@pytest.mark.parametrize(("asked", "why"), [
    ({"agency": "japan-pension-service", "purpose_id": "curiosity"},
     "not a statutory purpose"),
    ({"agency": "mlit", "purpose_id": "pension-status-check"}, "not a purpose of 'mlit'"),
    (PRIVATE, "private party may not use resident codes"),
])
def test_a_request_outside_the_table_is_refused_and_logged(
        register: Register, loaded: sessionmaker[Session], clock: FrozenClock,
        asked: dict[str, str], why: str) -> None:
    code = arrive(register)
    workers.drain(loaded, clock)
    before = _all_rows(loaded)
    with pytest.raises(PermissionDenied, match=why):
        provision.request(loaded, clock, resident_code=code, **asked)
    (entry,) = _log(loaded)
    assert (entry.agency, entry.purpose_id, entry.outcome) == (
        asked["agency"], asked["purpose_id"], "refused")
    assert why in (entry.reason or "")
    assert (entry.fields, entry.masked_number, entry.subject_resident_code) == ("[]", None, code)
    after = _all_rows(loaded)
    assert (len(before.pop("provision_log")), len(after.pop("provision_log"))) == (0, 1)
    assert after == before, "a refusal changes nothing but the log"


def test_private_parties_never_receive_a_resident_code(register: Register,
                                                      loaded: sessionmaker[Session],
                                                      clock: FrozenClock) -> None:
    code = arrive(register)
    workers.drain(loaded, clock)
    given = provision.request(loaded, clock, query=BasicFourQuery(
        name="山田　花子", birth_date="1990-05-03"), **PRIVATE)
    assert given.identity.name == "山田　花子"
    assert given.identity.resident_code is None and given.identity.individual_number is None
    assert not {"resident_code", "individual_number"} & set(given.fields)
    (entry,) = _log(loaded)
    assert entry.subject_resident_code == code, "the log still knows whose info was given"
    assert entry.masked_number is None


def test_a_removed_resident_is_answered_with_the_removed_flag(register: Register,
                                                              loaded: sessionmaker[Session],
                                                              clock: FrozenClock) -> None:
    code = arrive(register, name="鈴木　三郎", kana="スズキ　サブロウ", birth="1930-05-06",
                  sex=Sex.MALE)
    register.perform("clerk", Death(resident_code=code))
    workers.drain(loaded, clock)
    identity = provision.request(loaded, clock, resident_code=code, **PENSION).identity
    assert identity.removed and identity.change_reason == "DEATH"


def test_the_disclosure_includes_provisions_under_a_former_code(
        register: Register, loaded: sessionmaker[Session], clock: FrozenClock) -> None:
    old = arrive(register)
    other = arrive(register, name="佐藤　次郎", kana="サトウ　ジロウ", birth="1970-02-03")
    workers.drain(loaded, clock)
    provision.request(loaded, clock, resident_code=old, **PENSION)
    provision.request(loaded, clock, resident_code=other, **PENSION)
    with pytest.raises(PermissionDenied):
        provision.request(loaded, clock, resident_code=old, agency="mlit",
                          purpose_id="pension-status-check")
    draft = register.enter("clerk", ResidentCodeChange(resident_code=old))
    new = register.commit("chief", draft).resident_codes[0]
    workers.drain(loaded, clock)
    provision.request(loaded, clock, query=BasicFourQuery(
        name="山田　花子", birth_date="1990-05-03"), **PASSPORT)
    records = provision.history(loaded, new)
    assert [(r.subject_resident_code, r.agency, r.outcome) for r in records] == [
        (old, "japan-pension-service", Outcome.PROVIDED),
        (old, "mlit", Outcome.REFUSED),
        (new, "tokyo-governor", Outcome.PROVIDED),
    ]
    assert records[0].legal_basis and "別表第一" in records[0].legal_basis
    assert records[2].legal_basis and "別表第三" in records[2].legal_basis
    assert "individual_number" in records[0].fields
    assert [r.subject_resident_code for r in provision.history(loaded, other)] == [other]
    with pytest.raises(NotFound):
        provision.history(loaded, old)  # a former code no longer identifies anyone


def test_the_individual_number_is_never_logged_in_full(register: Register,
                                                       loaded: sessionmaker[Session],
                                                       clock: FrozenClock) -> None:
    code = arrive(register)
    workers.drain(loaded, clock)
    number = provision.request(loaded, clock, resident_code=code, **PENSION).identity \
        .individual_number
    assert number is not None
    provision.request(loaded, clock, query=BasicFourQuery(
        name="山田　花子", birth_date="1990-05-03"), **{**PENSION, "purpose_id": "pension-payment"})
    stored = {name: rows for name, rows in _all_rows(loaded).items()
              if name.startswith("provision_")}
    assert len(stored["provision_log"]) == 2
    assert all(f"'********{number[-4:]}'" in row for row in stored["provision_log"])
    assert number not in repr(stored)


@pytest.mark.parametrize(("arguments", "message"), [
    ({}, "either a resident code or a basic-four search"),
    ({"resident_code": "24727059608", "query": BasicFourQuery(name="山田", birth_date="1990")},
     "either a resident code"),
    ({"resident_code": "24727059609"}, "wrong check digit"),
    ({"query": BasicFourQuery(name="山田　花子", birth_date="1990-02-30")}, "birth date"),
    ({"query": BasicFourQuery(name="山田　花子", birth_date="1990-05-03", sex=4)}, "sex"),
    ({"query": BasicFourQuery(name="  ", birth_date="1990-05-03")}, "name is empty"),
])
def test_a_malformed_request_is_refused_before_anything_happens(
        loaded: sessionmaker[Session], clock: FrozenClock, arguments: dict[str, Any],
        message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        provision.request(loaded, clock, **PENSION, **arguments)
    assert _log(loaded) == []


def test_the_provision_commands(register: Register, loaded: sessionmaker[Session],
                                clock: FrozenClock, db_url: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    code = arrive(register)
    workers.drain(loaded, clock)
    monkeypatch.setenv("JPKI_DATABASE_URL", db_url)
    monkeypatch.setenv("JPKI_HOME", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str, exit_code: int = 0) -> str:
        result = runner.invoke(cli_provision.provision_group, list(args), obj={"clock": clock})
        assert result.exit_code == exit_code, result.output
        return result.output

    assert "児童扶養手当の支給" in run("purposes")
    shown = run("request", "--agency", "japan-pension-service", "--purpose",
                "pension-status-check", "--resident-code", code)
    number = _national(loaded, code).individual_number
    assert number and "平成2年5月3日" in shown and number not in shown and number[-4:] in shown
    assert "国外転入" in shown
    shown = run("request", "--agency", "tokyo-governor", "--purpose", "passport-correction-tokyo",
                "--name", "山田 花子", "--birth-date", "1990-05-03", "--sex", "2")
    assert code in shown and "個人番号" not in shown
    refused = run("request", "--agency", "mlit", "--purpose", "pension-status-check",
                  "--resident-code", code, exit_code=1)
    assert refused.strip() == ("Error: purpose 'pension-status-check' is not a purpose of "
                               "'mlit'")
    disclosed = run("history", code)
    assert [e.outcome for e in _log(loaded)] == ["provided", "provided", "refused"]
    assert "japan-pension-service" in disclosed and "拒否" in disclosed
    assert "2026-04-01 10:00:00" in disclosed, "times are shown in JST"
