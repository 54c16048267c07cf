"""Shared fixtures: an injected clock and a fresh, migrated database per test.

Storage-facing tests (those that use ``db_url``) run on SQLite and, when ``JPKI_TEST_PG_URL``
is set, on that PostgreSQL server too. Each backend is migrated once into a template that every
test copies, so each test gets a fresh database quickly.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import municipalities, operators
from jukibridge.records import Role
from jukibridge.register import Register
from pki.clock import FrozenClock
from web.database import make_engine, make_sessions, migrate

PG_URL = os.environ.get("JPKI_TEST_PG_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
MUNICIPALITY = "112089"  # 所沢市
PASSWORD = "correct horse battery"
START = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 10:00 JST


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, scope="session")


def _prepare(engine: Engine) -> None:
    """Migrate, load the municipality table and open 所沢市's register with its operators.

    Done once per backend: argon2 hashing is deliberately slow, so operators live in the
    template that every test copies.
    """
    migrate(engine)
    clock = FrozenClock(START)
    with make_sessions(engine)() as session, session.begin():
        municipalities.load_table(session)
        municipalities.open_register(session, clock, MUNICIPALITY)
        for login, role in (("clerk", Role.CLERK), ("chief", Role.SUPERVISOR),
                            ("chief2", Role.SUPERVISOR), ("auditor", Role.AUDITOR)):
            operators.add_operator(session, clock, login=login, password=PASSWORD, role=role,
                                   municipality_code=MUNICIPALITY)


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    templates: dict[str, str] = {}
    sqlite_file = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{sqlite_file}")
    _prepare(engine)
    raw = engine.raw_connection()  # outside any transaction: fold the WAL into the file
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    engine.dispose()
    templates["sqlite"] = str(sqlite_file)
    admin: Engine | None = None
    if PG_URL:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        name = f"jpki_tpl_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(False))
        _prepare(engine)
        engine.dispose()
        templates["postgresql"] = name
    yield templates
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{templates["postgresql"]}"'))
        admin.dispose()


@pytest.fixture
def db_url(backend: str, _templates: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated database of ``backend``."""
    if backend == "sqlite":
        target = tmp_path / "jpki.sqlite3"
        shutil.copyfile(_templates["sqlite"], target)
        yield f"sqlite:///{target}"
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"jpki_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_templates["postgresql"]}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessions(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def register(sessions: sessionmaker[Session], clock: FrozenClock) -> Register:
    """The register of 所沢市 with a clerk, two supervisors and an auditor."""
    return Register(sessions, clock, MUNICIPALITY)
