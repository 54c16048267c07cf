"""Benchmarks behind ``jpki bench``: figures for BENCHMARKS.md, never assertions in tests."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import municipalities, operators, population
from jukibridge.records import Role
from jukibridge.register import Register
from jukibridge.tables import Person
from pki.clock import Clock, FrozenClock
from web.database import make_engine, make_sessions, migrate

BENCH_MUNICIPALITY = "112089"
BENCH_OPERATOR = "bench"


@dataclass(frozen=True)
class PopulationBench:
    backend: str
    size: int
    load_seconds: float
    lookups: int
    lookup_p50_ms: float
    lookup_p99_ms: float
    raw_p50_ms: float
    raw_p99_ms: float

    @property
    def residents_per_second(self) -> float:
        return self.size / self.load_seconds


@contextmanager
def scratch_database(pg_url: str | None) -> Iterator[str]:
    """A fresh empty database: a temporary SQLite file, or a new database on ``pg_url``."""
    if not pg_url:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    name = f"jpki_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def open_bench_register(sessions: sessionmaker[Session], clock: Clock) -> None:
    """The municipality table, the bench municipality's register and its clerk."""
    with sessions() as session, session.begin():
        municipalities.load_table(session)
        municipalities.open_register(session, clock, BENCH_MUNICIPALITY)
        operators.add_operator(session, clock, login=BENCH_OPERATOR,
                               password="bench-password-not-secret", role=Role.CLERK,
                               municipality_code=BENCH_MUNICIPALITY)


def bench_population(size: int, *, pg_url: str | None = None, lookups: int = 2000,
                     progress: Callable[[int], None] | None = None) -> PopulationBench:
    """Generate and load ``size`` residents, then time lookups by resident code.

    Two lookups are timed: ``Register.record`` (the real path: operator check, snapshot read,
    audit entry) and, as the reference, one plain indexed SELECT through the DBAPI.
    """
    clock = FrozenClock(datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
    with scratch_database(pg_url) as url:
        engine = make_engine(url)
        migrate(engine)
        sessions = make_sessions(engine)
        open_bench_register(sessions, clock)
        started = time.perf_counter()
        population.generate(sessions, clock, BENCH_MUNICIPALITY, size, seed=1,
                            progress=progress)
        load_seconds = time.perf_counter() - started
        with sessions() as session:
            codes = list(session.scalars(select(Person.resident_code)))
        sample = random.Random(2).choices(codes, k=lookups)
        register = Register(sessions, clock, BENCH_MUNICIPALITY)
        timings = []
        for code in sample:
            t0 = time.perf_counter()
            register.record(code, operator=BENCH_OPERATOR)
            timings.append(time.perf_counter() - t0)
        raw = []
        with engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None
            cursor = dbapi.cursor()
            marker = "?" if url.startswith("sqlite") else "%s"
            query = ("SELECT s.* FROM persons p JOIN record_snapshots s ON s.person_id = "
                     f"p.person_id AND s.seq = p.current_seq WHERE p.resident_code = {marker}")
            for code in sample:
                t0 = time.perf_counter()
                cursor.execute(query, (code,))
                cursor.fetchall()
                raw.append(time.perf_counter() - t0)
        engine.dispose()
    return PopulationBench(
        backend="postgresql" if pg_url else "sqlite", size=size, load_seconds=load_seconds,
        lookups=lookups, lookup_p50_ms=_pct(timings, 50), lookup_p99_ms=_pct(timings, 99),
        raw_p50_ms=_pct(raw, 50), raw_p99_ms=_pct(raw, 99))


def _pct(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100)[pct - 1] * 1000 if pct < 100 else max(values)
