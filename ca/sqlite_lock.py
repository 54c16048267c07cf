"""Beginning a write transaction on SQLite: the write lock taken at BEGIN, waited for in steps.

Every jpki write transaction on SQLite begins with ``BEGIN IMMEDIATE``, whether it goes through
SQLAlchemy (``web.database``'s sessions) or straight to the driver (``ca.issuance_writes``). A
transaction that read first and wrote later could otherwise fail at once with SQLITE_BUSY (no
busy wait) when another connection committed in between. The lock is awaited here in short
steps: SQLite's own busy handler backs off to 100 ms sleeps, which a busy counter turns into long
tails for the tier workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

LOCK_WAIT = 30.0  # seconds a write transaction waits for the write lock
_STEP = 0.0005


def begin_immediate(execute: Callable[[str], object],
                    operational_error: type[Exception]) -> None:
    """``execute("BEGIN IMMEDIATE")``, again while it fails with ``operational_error`` for a
    locked database, for at most ``LOCK_WAIT`` seconds."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            execute("BEGIN IMMEDIATE")
            return
        except operational_error as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(_STEP)
