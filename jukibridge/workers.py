"""Tier workers: the loops that move identity events up, one per server kind.

- ``cs``: every CS applies the messages other CSs sent it (move-in notices, special moves);
- ``prefecture``: every prefecture server reads its municipalities' CS outboxes;
- ``national``: the national server reads every prefecture outbox and writes the notice feed.

Each round is transactional (see ``prefecture`` and ``national``), so a worker may be killed at
any point and restarted. In the embedded default the workers run as threads of the server
process (``TierThreads``); ``jpki worker KIND`` runs one as its own process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import exchange, national, prefecture
from pki.clock import Clock

log = logging.getLogger(__name__)
KINDS = ("cs", "prefecture", "national")


def round_of(kind: str, sessions: sessionmaker[Session], clock: Clock, batch: int = 1000
             ) -> int:
    """One delivery round of worker ``kind``; returns how many events it applied."""
    if kind == "cs":
        return exchange.deliver(sessions, clock, batch=batch)
    if kind == "prefecture":
        with sessions() as session:
            codes = prefecture.prefectures_with_outboxes(session)
        return sum(prefecture.deliver(sessions, clock, code, batch=batch) for code in codes)
    if kind == "national":
        return national.deliver(sessions, clock, batch=batch)
    raise ValueError(f"unknown worker kind {kind!r} (one of {', '.join(KINDS)})")


def drain(sessions: sessionmaker[Session], clock: Clock, batch: int = 1000) -> int:
    """Run every tier until nothing moves (the demo and tests use this); returns events moved."""
    total = 0
    while True:
        moved = sum(round_of(kind, sessions, clock, batch) for kind in KINDS)
        total += moved
        if not moved:
            return total


@dataclass
class TierThreads:
    """Every tier worker as a daemon thread, polling every ``interval`` seconds when idle."""

    sessions: sessionmaker[Session]
    clock: Clock
    interval: float = 0.05
    batch: int = 1000
    kinds: tuple[str, ...] = KINDS
    on_error: Callable[[str, Exception], None] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for kind in self.kinds:
            thread = threading.Thread(target=self.run, args=(kind,), name=f"tier-{kind}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def run(self, kind: str) -> None:
        """Loop until stopped; a failed round is logged and retried after a pause."""
        while not self._stop.is_set():
            try:
                moved = round_of(kind, self.sessions, self.clock, self.batch)
            except DBAPIError as exc:  # e.g. a lock timeout: nothing was applied, try again
                log.warning("tier worker %s: round failed: %s", kind, exc.__class__.__name__)
                if self.on_error is not None:
                    self.on_error(kind, exc)
                moved = 0
            if not moved:
                self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
