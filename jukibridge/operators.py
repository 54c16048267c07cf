"""Operators (操作者): roles, argon2-hashed passwords and lockout after repeated failures."""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from jukibridge import audit
from jukibridge.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from jukibridge.records import Role
from jukibridge.tables import Operator, RegisterSettings
from pki.clock import Clock

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=30)
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()


def add_operator(
    session: Session,
    clock: Clock,
    *,
    login: str,
    password: str,
    role: Role,
    municipality_code: str,
    display_name: str = "",
    actor: str = "system",
) -> Operator:
    """Create an operator; the password is stored only as an argon2 hash."""
    login = login.strip()
    if not login or len(login) > 40 or not login.isascii() or not login.replace(
        "-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidInput("login must be 1–40 ASCII letters, digits, '-', '_' or '.'",
                           field="login")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters",
                           field="password")
    if session.get(RegisterSettings, municipality_code) is None:
        raise NotFound(f"municipality {municipality_code} keeps no register here",
                       field="municipality_code")
    if session.get(Operator, login) is not None:
        raise Conflict(f"operator {login} already exists", field="login")
    operator = Operator(
        login=login,
        municipality_code=municipality_code,
        display_name=display_name or login,
        role=role.value,
        password_hash=_hasher.hash(password),
        failed_attempts=0,
        active=True,
    )
    session.add(operator)
    audit.record(session, clock, actor=actor, action="operator.add", target=login,
                 municipality_code=municipality_code, details={"role": role.value})
    return operator


def authenticate(session: Session, clock: Clock, login: str, password: str) -> Operator:
    """Check a password; count failures and lock the operator after ``MAX_FAILURES``.

    The caller commits the session even on failure, so that the failure count persists.
    """
    operator = session.get(Operator, login)
    now = clock.now()
    if operator is None or not operator.active:
        audit.record(session, clock, actor=login[:40], action="operator.login-failed",
                     target=login[:80], details={"why": "unknown"})
        raise AuthenticationFailed("wrong login or password")
    if operator.locked_until is not None and operator.locked_until > now:
        audit.record(session, clock, actor=login, action="operator.login-failed", target=login,
                     municipality_code=operator.municipality_code, details={"why": "locked"})
        raise AuthenticationFailed("operator is locked; try later or ask a supervisor",
                                   locked_until=operator.locked_until.isoformat())
    try:
        _hasher.verify(operator.password_hash, password)
    except (VerificationError, InvalidHashError):
        operator.failed_attempts += 1
        details: dict[str, object] = {"why": "password", "failures": operator.failed_attempts}
        if operator.failed_attempts >= MAX_FAILURES:
            operator.locked_until = now + LOCKOUT
            operator.failed_attempts = 0
            details["locked"] = True
        audit.record(session, clock, actor=login, action="operator.login-failed", target=login,
                     municipality_code=operator.municipality_code, details=details)
        raise AuthenticationFailed("wrong login or password") from None
    operator.failed_attempts = 0
    operator.locked_until = None
    if _hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = _hasher.hash(password)
    audit.record(session, clock, actor=login, action="operator.login", target=login,
                 municipality_code=operator.municipality_code)
    return operator


def unlock(session: Session, clock: Clock, login: str, actor: str) -> None:
    """A supervisor lifts a lockout."""
    operator = session.get(Operator, login)
    if operator is None:
        raise NotFound(f"no operator {login}", field="login")
    operator.locked_until = None
    operator.failed_attempts = 0
    audit.record(session, clock, actor=actor, action="operator.unlock", target=login,
                 municipality_code=operator.municipality_code)
