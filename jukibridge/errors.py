"""Exceptions of the register: each carries structured fields; ``web`` maps them to HTTP."""

from __future__ import annotations


class RegisterError(Exception):
    """Base of every error the register raises on purpose; the register is unchanged after it."""

    code = "register-error"

    def __init__(self, message: str, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class InvalidInput(RegisterError):
    """A value that cannot be right (malformed code, impossible date, missing item)."""

    code = "invalid-input"


class NotFound(RegisterError):
    """No such resident, change, household, operator or municipality."""

    code = "not-found"


class Conflict(RegisterError):
    """The request contradicts the register's state (e.g. death of a removed person)."""

    code = "conflict"


class PermissionDenied(RegisterError):
    """The operator's role does not allow the action."""

    code = "permission-denied"


class AuthenticationFailed(RegisterError):
    """Wrong login or password, or a locked operator."""

    code = "authentication-failed"


class AuditChainBroken(RegisterError):
    """The audit log's hash chain does not verify."""

    code = "audit-chain-broken"
