"""Errors of the revocation service: one small hierarchy, mapped to HTTP by ``web`` alone."""

from __future__ import annotations

from typing import Any


class RevocationError(Exception):
    """A refusal of the revocation service; nothing was changed."""

    code = "revocation_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class UnknownCertificate(RevocationError):
    """No such certificate was ever issued (or its issuer is not one of ours)."""

    code = "unknown_certificate"


class InvalidRequest(RevocationError):
    """A revocation request that cannot be right (wrong cause, no certificate named, ...)."""

    code = "invalid_request"


class NoSigner(RevocationError):
    """No signer (CA key or delegated responder) for a generation."""

    code = "no_signer"


class UnknownIssuer(RevocationError):
    """No CA generation with this key id or name."""

    code = "unknown_issuer"


class VerifierUnauthorized(RevocationError):
    """No API key, or one that is not a registered verifier's (HTTP 401)."""

    code = "verifier_unauthorized"


class NotPermitted(RevocationError):
    """A known verifier that may not have this (suspended, not entitled, no consent)."""

    code = "not_permitted"


class NotApplicable(RevocationError):
    """The request names something the service does not answer for (a certificate that is not
    a revoked signing certificate)."""

    code = "not_applicable"
