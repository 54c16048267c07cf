"""The wall clock, read only here in the composition root and handed to the core as a Clock."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """The real time, as an aware UTC datetime."""

    def now(self) -> datetime:
        return datetime.now(UTC)
