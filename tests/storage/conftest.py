"""Fixtures of the storage tests: the command line on a fresh database of each backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import municipalities, operators
from jukibridge.records import Role
from pki.clock import FrozenClock
from tests.conftest import PASSWORD
from web.cli import main

Jpki = Callable[..., Result]
HIRATSUKA = "142034"  # 平塚市, 神奈川県: another municipality in another prefecture


@pytest.fixture
def hiratsuka(sessions: sessionmaker[Session], clock: FrozenClock) -> str:
    """平塚市 keeps its register here too, with one clerk and one auditor."""
    with sessions() as s, s.begin():
        municipalities.open_register(s, clock, HIRATSUKA)
        for login, role in (("h-clerk", Role.CLERK), ("h-auditor", Role.AUDITOR)):
            operators.add_operator(s, clock, login=login, password=PASSWORD, role=role,
                                   municipality_code=HIRATSUKA)
    return HIRATSUKA


@pytest.fixture
def jpki(db_url: str, tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> Jpki:
    """Run ``jpki ARGS...`` against the test database; ``ok=False`` allows a failure."""
    monkeypatch.setenv("JPKI_DATABASE_URL", db_url)
    monkeypatch.setenv("JPKI_HOME", str(tmp_path / "instance"))
    monkeypatch.setenv("JPKI_OPERATOR_PASSWORD", PASSWORD)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(main, list(args), obj={"clock": clock})
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


AUTH_PIN = "1234"  # the card PINs of enrolled test cards
SIGNING_PASSWORD = "ABC123"


@pytest.fixture
def card_instance(jpki: Jpki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An instance with both CAs, and the PIN files of test cards, in ``tmp_path``."""
    monkeypatch.setenv("JPKI_CA_PASSPHRASE", "a test passphrase, not a secret")
    jpki("init")
    jpki("ca", "init")
    (tmp_path / "auth.pin").write_text(AUTH_PIN)
    (tmp_path / "sign.pin").write_text(SIGNING_PASSWORD)
    return tmp_path


def enrol_card(jpki: Jpki, folder: Path, code: str, name: str = "card.jcard",
               ok: bool = True) -> tuple[Path, str]:
    """``jpki card enrol`` for resident ``code``; returns the card's path and the output."""
    card = folder / name
    result = jpki("card", "enrol", "--resident", code, "--out", str(card),
                  "--identity-document", "運転免許証", "--operator", "clerk",
                  "--auth-pin-file", str(folder / "auth.pin"),
                  "--signing-password-file", str(folder / "sign.pin"), ok=ok)
    return card, result.output
