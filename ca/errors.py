"""Errors of the certificate authority: one small hierarchy, mapped to HTTP by ``web`` alone."""

from __future__ import annotations

from typing import Any


class CaError(Exception):
    """A refusal of the CA, with a clear message and the fields it concerns."""

    code = "ca_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class KeyStoreError(CaError):
    code = "key_store"


class IssuanceRefused(CaError):
    """The intended certificate failed the lint or the issuance policy."""

    code = "issuance_refused"


class NotEligible(CaError):
    """The holder may not receive this certificate (age, record state, ...)."""

    code = "not_eligible"


class CaNotFound(CaError):
    code = "not_found"


class CaConflict(CaError):
    code = "conflict"
