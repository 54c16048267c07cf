"""Tier workers as real processes, killed with SIGKILL mid-batch again and again."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import population, workers
from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from jukibridge.tier_tables import (
    CsOutboxEvent,
    NationalEvent,
    PrefectureEvent,
    RevocationNoticeRow,
)
from pki.clock import FrozenClock
from tests.conftest import MUNICIPALITY
from tests.storage.helpers import arrive

WORKER = "from web.cli import main; main()"


def _start(kind: str, db_url: str, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JPKI_DATABASE_URL": db_url, "JPKI_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, "worker", kind, "--batch", "1", "--interval", "0.001"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_killed_workers_lose_and_duplicate_nothing(
        register: Register, sessions: sessionmaker[Session], clock: FrozenClock, db_url: str,
        tmp_path: Path) -> None:
    codes = [arrive(register, name=f"試験　{i}郎", kana="シケン　タロウ") for i in range(5)]
    workers.drain(sessions, clock)
    rng = random.Random(7)
    moves = iter(range(1, 1000))
    mid_way = 0
    for _ in range(8):
        # fresh work for every life of the workers: arrivals in bulk, and some relocations
        population.generate(sessions, clock, MUNICIPALITY, 150, seed=rng.randrange(10**6))
        for _ in range(5):
            register.perform("clerk", Relocation(resident_codes=[rng.choice(codes)],
                                                 address=f"東町{next(moves)}番1号"))
        running = [_start(kind, db_url, tmp_path) for kind in ("prefecture", "national")]
        time.sleep(rng.uniform(0.8, 2.0))  # start-up, then some rounds, then the kill
        for process in running:
            process.send_signal(signal.SIGKILL)
            process.wait()
        with sessions() as session:
            applied = len(session.scalars(select(NationalEvent.event_id)).all())
            total = len(session.scalars(select(CsOutboxEvent.event_id)).all())
        mid_way += 0 < applied < total
    workers.drain(sessions, clock)
    sent = [e.event_id for e in _rows(sessions, CsOutboxEvent)]
    at_prefecture = [e.event_id for e in _rows(sessions, PrefectureEvent)]
    at_national = [e.event_id for e in _rows(sessions, NationalEvent)]
    noticed = [n.event_id for n in _rows(sessions, RevocationNoticeRow)]
    assert mid_way >= 3, "the workers were killed with work half done"
    assert Counter(at_prefecture) == Counter(sent) == Counter(at_national)
    assert len(noticed) == len(set(noticed)) == 40  # one per relocation
    with sessions() as session:
        order = session.scalars(select(PrefectureEvent.origin_seq)
                                .order_by(PrefectureEvent.seq)).all()
    assert list(order) == sorted(order)


def _rows(sessions: sessionmaker[Session], table: type) -> list:  # type: ignore[type-arg]
    with sessions() as session:
        return list(session.scalars(select(table)))
