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
