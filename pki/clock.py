"""The injected clock: core code asks a ``Clock`` for the time and never reads the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class FrozenClock:
    """A clock that stands still until told to move; for tests, demos and benchmarks."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (never backward)."""
        if delta < timedelta(0):
            raise ValueError("a clock does not go backward")
        self._at += delta

    def set(self, at: datetime) -> None:
        """Jump to a later instant."""
        at = at.astimezone(UTC)
        if at < self._at:
            raise ValueError("a clock does not go backward")
        self._at = at
