"""The status of one certificate as plain facts: the JSON status API and ``jpki status``.

A certificate is named by its issuer (a CA generation's name as in ``/ca/<name>.cer``, e.g.
``sign-1``, or its key id in hex) and its serial (decimal, or hex with ``0x``). The facts carry
no personal data: no resident code, card, operator or cause reference, only what a CRL or an
OCSP response says too (status, revocation time, RFC 5280 reason, invalidity date) and the
certificate's expiry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.x509 import ReasonFlags

from pki.clock import Clock
from revocation.errors import InvalidRequest, UnknownIssuer
from revocation.ports import CertificateDirectory, Issuer
from revocation.service import CertStatus, RevocationService

MAX_SERIAL_OCTETS = 20  # RFC 5280 §4.1.2.2
_SERIAL = re.compile(r"[0-9]{1,49}|0[xX][0-9a-fA-F]{1,40}")
SERIAL_PATTERN = f"^(?:{_SERIAL.pattern})$"  # the same rule, for the OpenAPI document


def parse_serial(text: str) -> int:
    """A serial written in decimal or as ``0x`` hex (at most 20 octets' worth of digits)."""
    if _SERIAL.fullmatch(text) is None:
        raise InvalidRequest("a serial is written in decimal digits or as 0x followed by hex "
                             "digits (at most 20 octets)", serial=text[:60])
    return int(text, 16) if text[:2].lower() == "0x" else int(text, 10)


def find_issuer(directory: CertificateDirectory, name_or_key_id: str) -> Issuer:
    """A CA generation by name (``sign-1``) or key id (hex, any case)."""
    for issuer in directory.issuers():
        if name_or_key_id == issuer.name or name_or_key_id.lower() == issuer.key_id:
            return issuer
    raise UnknownIssuer(f"no CA generation {name_or_key_id[:80]!r}")


@dataclass(frozen=True)
class StatusFacts:
    """What the revocation service says about one certificate, at ``checked_at``."""

    issuer: str  # the generation's name (``sign-1``)
    issuer_key_id: str
    serial: int
    status: CertStatus
    revoked_at: datetime | None
    reason: ReasonFlags | None
    invalidity_date: datetime | None
    not_after: datetime | None  # None only for a certificate never issued
    checked_at: datetime

    @property
    def expired(self) -> bool:
        return self.not_after is not None and self.not_after <= self.checked_at

    def to_json(self) -> dict[str, object]:
        """The JSON object of the status API (``CertificateStatus`` in the OpenAPI document)."""
        return {
            "issuer": self.issuer,
            "issuer_key_id": self.issuer_key_id,
            "serial": str(self.serial),
            "status": self.status.value,
            "revoked_at": _iso(self.revoked_at),
            "reason": self.reason.value if self.reason is not None else None,
            "invalidity_date": _iso(self.invalidity_date),
            "not_after": _iso(self.not_after),
            "expired": self.expired,
            "checked_at": _iso(self.checked_at),
        }

    def summary(self) -> str:
        """One line for the shell: ``good``, ``revoked: <reason> at <time>`` or ``unknown``,
        with ``(expired <time>)`` appended for an expired certificate."""
        if self.status is CertStatus.REVOKED and self.reason is not None:
            line = f"revoked: {self.reason.value} at {_iso(self.revoked_at)}"
        else:
            line = self.status.value
        if self.expired:
            line += f" (expired {_iso(self.not_after)})"
        return line


def look_up(service: RevocationService, clock: Clock, issuer: Issuer, serial: int
            ) -> StatusFacts:
    """The facts about ``serial`` of ``issuer`` (``unknown`` when it was never issued)."""
    found = service.status(issuer.key_id, serial)
    revocation = found.revocation
    not_after = (found.certificate.not_after if found.certificate is not None
                 else revocation.not_after if revocation is not None else None)
    return StatusFacts(
        issuer=issuer.name, issuer_key_id=issuer.key_id, serial=serial, status=found.state,
        revoked_at=revocation.revoked_at if revocation is not None else None,
        reason=revocation.reason if revocation is not None else None,
        invalidity_date=revocation.invalidity_date if revocation is not None else None,
        not_after=not_after, checked_at=clock.now())


def _iso(at: datetime | None) -> str | None:
    """RFC 3339 in UTC with ``Z``, to the second."""
    if at is None:
        return None
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
