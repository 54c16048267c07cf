"""Sessions of the card-login API (``/api/v1/auth``): an opaque bearer token per verified login.

A relying party's client gets a challenge, has the card sign it and sends the signed challenge
back (``web.portal_login`` checks it exactly as for the portal); the answer is a session token.
The session names the authentication certificate (issuer generation and serial) and nothing
else: JPKI's user authentication tells a relying party which certificate logged in, not who the
holder is. A session ends after ``idle`` without use, at logout, or as soon as the certificate is
no longer good (checked on every use). Tokens are kept only as SHA-256 digests, in this process
(``jpki serve`` is one process; a restart ends every session).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from web.portal_login import LoggedIn

MAX_SESSIONS = 50_000


@dataclass(frozen=True)
class ApiSession:
    login: LoggedIn
    opened_at: datetime
    last_used: datetime


@dataclass
class ApiSessions:
    """Open sessions by token digest (thread-safe); ``idle`` comes from the app's config."""

    limit: int = MAX_SESSIONS
    _items: dict[str, ApiSession] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, login: LoggedIn, now: datetime, idle: timedelta) -> str | None:
        """A new session's token, or None when the store is full."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._purge(now, idle)
            if len(self._items) >= self.limit:
                return None
            self._items[_digest(token)] = ApiSession(login, now, now)
        return token

    def use(self, token: str, now: datetime, idle: timedelta) -> ApiSession | None:
        """The live session of ``token`` (its idle time restarts), or None."""
        key = _digest(token)
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if now - found.last_used > idle:
                del self._items[key]
                return None
            self._items[key] = replace(found, last_used=now)
            return self._items[key]

    def close(self, token: str) -> bool:
        with self._lock:
            return self._items.pop(_digest(token), None) is not None

    def _purge(self, now: datetime, idle: timedelta) -> None:
        for key in [k for k, s in self._items.items() if now - s.last_used > idle]:
            del self._items[key]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


SESSIONS = ApiSessions()
