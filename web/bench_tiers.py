"""``jpki bench tiers``: changes through CS → prefecture → national → the notice feed.

Two figures, on a scratch database with a loaded population:

- **throughput**: a backlog of committed relocations (each one basic-four change, so one notice
  each) is released to the tier workers running as threads, as in the server; measured from
  their start until the last notice is in the feed;
- **latency**: with the workers running, relocations are committed at the counter at a steady
  ``rate`` per second (a busy counter floor, not a saturating loop); for each, the time from the
  commit (the outbox row's timestamp) to its notice.

The counter's own rate (``Register.perform``, one transaction per change) is reported beside
them, since a real feed can go no faster than the counters that fill it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import population, workers
from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from jukibridge.tables import Person
from jukibridge.tier_tables import CsOutboxEvent, RevocationNoticeRow
from web.bench import BENCH_MUNICIPALITY, BENCH_OPERATOR, open_bench_register, scratch_database
from web.clock import SystemClock
from web.database import make_engine, make_sessions, migrate


@dataclass(frozen=True)
class TiersBench:
    backend: str
    backlog: int
    backlog_seconds: float
    paced: int
    rate: float
    latency_p50_ms: float
    latency_p99_ms: float
    counter_per_second: float

    @property
    def changes_per_second(self) -> float:
        return self.backlog / self.backlog_seconds


def bench_tiers(*, backlog: int = 3000, paced: int = 500, rate: float = 50.0,
                population_size: int = 5000, pg_url: str | None = None) -> TiersBench:
    clock = SystemClock()
    with scratch_database(pg_url) as url:
        engine = make_engine(url)
        migrate(engine)
        sessions = make_sessions(engine)
        open_bench_register(sessions, clock)
        population.generate(sessions, clock, BENCH_MUNICIPALITY, population_size, seed=1)
        workers.drain(sessions, clock)
        with sessions() as session:
            codes = list(session.scalars(select(Person.resident_code)))
        register = Register(sessions, clock, BENCH_MUNICIPALITY)
        moves = iter(range(1, 10**9))

        def relocate(index: int) -> None:
            code = codes[index % len(codes)]
            register.perform(BENCH_OPERATOR, Relocation(
                resident_codes=[code], address=f"東町{next(moves)}番1号"))

        started = time.perf_counter()
        for index in range(backlog):
            relocate(index)
        counter_per_second = backlog / (time.perf_counter() - started)

        threads = workers.TierThreads(sessions, clock, interval=0.01)
        started = time.perf_counter()
        threads.start()
        while _notices(sessions) < backlog:
            time.sleep(0.005)
        backlog_seconds = time.perf_counter() - started

        first_paced = _notices(sessions)
        next_at = time.perf_counter()
        for index in range(paced):
            next_at += 1 / rate
            relocate(backlog + index)
            time.sleep(max(0.0, next_at - time.perf_counter()))
        while _notices(sessions) < first_paced + paced:
            time.sleep(0.005)
        threads.stop()
        with sessions() as session:
            rows = session.execute(
                select(RevocationNoticeRow.created_at, CsOutboxEvent.recorded_at)
                .join(CsOutboxEvent, CsOutboxEvent.event_id == RevocationNoticeRow.event_id)
                .where(RevocationNoticeRow.seq > first_paced)).all()
        latencies = [(notice - committed).total_seconds() for notice, committed in rows]
        engine.dispose()
    cuts = statistics.quantiles(latencies, n=100)
    return TiersBench(backend="postgresql" if pg_url else "sqlite", backlog=backlog,
                      backlog_seconds=backlog_seconds, paced=paced, rate=rate,
                      latency_p50_ms=cuts[49] * 1000, latency_p99_ms=cuts[98] * 1000,
                      counter_per_second=counter_per_second)


def _notices(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RevocationNoticeRow)) or 0)
