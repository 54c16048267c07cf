"""Passing path validations, remembered for a short time: the verifier's fast path.

Path validation with pyhanko-certvalidator is the costliest step of a verification, and its
outcome depends only on the signer's certificate, the untrusted certificates that came with it,
the trust store, the revocation evidence and the validation time. A :class:`PathCache` belongs to
one :class:`~pki.verify.trust.TrustStore` (a new trust store, after a CA rollover, starts empty)
and remembers *passing* outcomes under a digest of the certificates and of the evidence's bytes.

The evidence is still gathered on every verification; a hit needs byte-identical evidence. A
revocation changes the OCSP response (or the CRL), so it misses and is judged in full at once.

An entry serves validation times from the one it was computed at up to the earliest of: every
nextUpdate of the evidence, the notAfter of every certificate of the validated path and of the
OCSP responders' certificates, and ``max_age`` later. Within that window every condition that
held stays true (already valid and not yet expired, evidence already issued and still current),
so the outcome is the one computed. Evidence without a nextUpdate, or that lists any certificate
as revoked (even from a later date), is never cached; failures are never cached.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

MAX_ENTRIES: Final = 10_000  # one per (signer, evidence) pair: a few hundred bytes each
MAX_AGE: Final = timedelta(minutes=5)


def path_key(cert: x509.Certificate, others: Sequence[x509.Certificate],
             ocsps: Sequence[bytes], crls: Sequence[bytes]) -> bytes:
    """A digest of everything a path validation reads besides the trust store and the time."""
    digest = hashlib.sha256()
    for part in (b"cert", cert.public_bytes(Encoding.DER),
                 *_tagged(b"other", (c.public_bytes(Encoding.DER) for c in others)),
                 *_tagged(b"ocsp", ocsps), *_tagged(b"crl", crls)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def _tagged(tag: bytes, parts: Iterable[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for part in parts:
        out += [tag, part]
    return out


def evidence_until(ocsps: Sequence[bytes], crls: Sequence[bytes], serials: frozenset[int],
                   issuer_of: Callable[[x509.Certificate], x509.Certificate | None]
                   ) -> datetime | None:
    """Until when the evidence stays as it is: the earliest nextUpdate, and notAfter of the
    OCSP responders' certificates and of their issuers (``issuer_of``). None when it must not
    be cached: a response or CRL without nextUpdate, an OCSP status other than good, or a CRL
    listing one of ``serials``."""
    limits: list[datetime] = []
    for der in ocsps:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return None
        for single in response.responses:
            if (single.certificate_status is not ocsp.OCSPCertStatus.GOOD
                    or single.next_update_utc is None):
                return None
            limits.append(single.next_update_utc)
        for responder in response.certificates:
            limits.append(responder.not_valid_after_utc)
            issuer = issuer_of(responder)
            if issuer is not None:
                limits.append(issuer.not_valid_after_utc)
    for der in crls:
        crl = x509.load_der_x509_crl(der)
        if crl.next_update_utc is None or any(
                crl.get_revoked_certificate_by_serial_number(serial) is not None
                for serial in serials):
            return None
        limits.append(crl.next_update_utc)
    return min(limits) if limits else None


@dataclass(frozen=True)
class _Entry:
    validated_at: datetime
    valid_until: datetime


class PathCache:
    """Passing path validations by :func:`path_key`, each valid for a window of time.

    Thread-safe; bounded (least recently used entries go first).
    """

    def __init__(self, max_entries: int = MAX_ENTRIES, max_age: timedelta = MAX_AGE) -> None:
        if max_entries < 1 or max_age <= timedelta(0):
            raise ValueError("a path cache needs room for one entry and a positive age")
        self.max_entries = max_entries
        self.max_age = max_age
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def passed(self, key: bytes, at: datetime) -> bool:
        """Whether a validation with this key passed, and still holds at ``at``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if not entry.validated_at <= at <= entry.valid_until:
                if at > entry.valid_until:
                    del self._entries[key]
                return False
            self._entries.move_to_end(key)
            return True

    def remember(self, key: bytes, at: datetime, until: datetime) -> None:
        """Record a validation that passed at ``at``; it holds until ``until`` at the latest."""
        until = min(until, at + self.max_age)
        if until <= at:
            return
        with self._lock:
            self._entries[key] = _Entry(at, until)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
