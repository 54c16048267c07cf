"""The idle timeout shared by the browser sessions of the counter and the portal."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

CLOCK_SKEW = timedelta(minutes=1)  # a "last seen" this far ahead of now is not believed


def idle_too_long(seen: object, now: datetime) -> bool:
    """Whether a session last seen at ``seen`` (ISO text from the session cookie) has been idle
    longer than ``SESSION_IDLE_MINUTES`` at ``now`` (the service's clock); unreadable: yes."""
    if not isinstance(seen, str):
        return True
    try:
        last = datetime.fromisoformat(seen)
    except ValueError:
        return True
    minutes = int(current_app.config["SESSION_IDLE_MINUTES"])
    return now - last > timedelta(minutes=minutes) or last > now + CLOCK_SKEW
