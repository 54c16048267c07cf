"""The verification report, in the vocabulary of ETSI EN 319 102-1 (clause 5.1.3).

One :class:`SignatureReport` per signature, in document order; the :class:`Report` adds the format,
the validation time and an overall indication. :meth:`Report.to_json` gives the stable JSON form::

    {
      "schema": "jpki-verification-report/1",
      "format": "xml" | "cms" | "pdf",
      "validation_time": "2026-04-02T03:00:00Z",
      "indication": "TOTAL_PASSED" | "TOTAL_FAILED" | "INDETERMINATE",
      "signatures": [
        {
          "index": 0,                                  // position in the document, from 0
          "indication": "TOTAL_PASSED" | "TOTAL_FAILED" | "INDETERMINATE",
          "sub_indication": null | "REVOKED" | "EXPIRED" | "HASH_FAILURE" | …,
          "message": "one line, for people",
          "signer": null | {
            "subject": "CN=…,L=…,C=JP",                // RFC 4514
            "issuer": "OU=JPKI for digital signature,O=JPKI,C=JP",
            "serial": "7305…",                         // decimal, as a string
            "issuer_key_id": "a1b2…" | null,           // AKI key id, hex: with serial, the id
            "not_before": "…Z", "not_after": "…Z",
            "sha256": "…"                              // of the certificate's DER (hex)
          },
          "signed_data_digest": null | {"algorithm": "sha256", "value": "…hex…"},
          "revocation": [                // evidence about this certificate: OCSP, CRLs as fallback
            {
              "type": "ocsp" | "crl",
              "produced_at": "…Z",                     // OCSP producedAt; CRL thisUpdate
              "this_update": "…Z", "next_update": "…Z" | null,
              "cert_status": "good" | "revoked" | "unknown",   // a CRL that does not list it: good
              "revoked_at": "…Z" | null,
              "reason": "key_compromise" | "certificate_hold" | … | null,
              "sha256": "…"                            // of the evidence's DER (hex)
            }
          ],
          "basic_four": {                              // absent unless include_basic_four
            "name": "高橋　太郎", "name_flags": "10000", "sex": 1,   // 髙 substituted, flagged
            "birth_date": "319750315", "address": "…", "address_flags": "…"
          } | null
        }
      ]
    }

``sub_indication`` is null exactly when ``indication`` is TOTAL_PASSED. ``signed_data_digest`` is
the SHA-256 of what the signature covers (XML: the canonical ``CONTENTS``; CMS: the content; PDF:
the signed byte ranges) once the cryptographic check has passed. The overall indication is
TOTAL_FAILED if any signature failed, else INDETERMINATE if any is indeterminate, else
TOTAL_PASSED. The basic four is personal data: it is left out unless the caller asks for it (the
endpoint decides who is entitled, DESIGN.md §6). Keys are never removed or renamed within
schema version 1; new optional keys may appear.

Policy notes. Validation is at one point in time, ``validation_time``, with no proof of existence
other than the document in hand at that time:

- NOT_YET_VALID is TOTAL_FAILED: the signature existed at a time its certificate was not valid.
- EXPIRED is INDETERMINATE (as in clause 5.1.3): nothing shows whether it was made before expiry.
- REVOKED is TOTAL_FAILED: the JPKI acceptance rule decides on the status at the validation time.
  (Strict clause 5.2.6 would say INDETERMINATE/REVOKED_NO_POE without a proof that the signature
  came after the revocation; this verifier does not do long-term validation.)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from pki.basic_four import BasicFour, BasicFourError, decode

SCHEMA = "jpki-verification-report/1"
Format = Literal["xml", "cms", "pdf"]


class Indication(StrEnum):
    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    """The sub-indications this verifier produces; :attr:`indication` gives their indication."""

    # TOTAL_FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    NOT_YET_VALID = "NOT_YET_VALID"
    # INDETERMINATE
    EXPIRED = "EXPIRED"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    TRY_LATER = "TRY_LATER"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"

    @property
    def indication(self) -> Indication:
        if self in _FAILED:
            return Indication.TOTAL_FAILED
        return Indication.INDETERMINATE


_FAILED = frozenset({
    SubIndication.FORMAT_FAILURE, SubIndication.HASH_FAILURE, SubIndication.SIG_CRYPTO_FAILURE,
    SubIndication.REVOKED, SubIndication.NOT_YET_VALID,
})


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SignerCertificate:
    """Who signed: enough to find the certificate again and ask about its status."""

    subject: str
    issuer: str
    serial: int
    issuer_key_id: str | None
    not_before: datetime
    not_after: datetime
    sha256: str

    @classmethod
    def of(cls, cert: x509.Certificate) -> SignerCertificate:
        try:
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
            key_id = aki.key_identifier.hex() if aki.key_identifier is not None else None
        except (x509.ExtensionNotFound, ValueError):
            key_id = None
        der = cert.public_bytes(Encoding.DER)
        return cls(
            subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
            serial=cert.serial_number, issuer_key_id=key_id, not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc, sha256=hashlib.sha256(der).hexdigest(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject, "issuer": self.issuer, "serial": str(self.serial),
            "issuer_key_id": self.issuer_key_id, "not_before": _time(self.not_before),
            "not_after": _time(self.not_after), "sha256": self.sha256,
        }


@dataclass(frozen=True)
class Evidence:
    """One piece of revocation evidence about the signer's certificate."""

    type: Literal["ocsp", "crl"]
    produced_at: datetime
    this_update: datetime
    next_update: datetime | None
    cert_status: Literal["good", "revoked", "unknown"]
    revoked_at: datetime | None
    reason: str | None
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type, "produced_at": _time(self.produced_at),
            "this_update": _time(self.this_update), "next_update": _time(self.next_update),
            "cert_status": self.cert_status, "revoked_at": _time(self.revoked_at),
            "reason": self.reason, "sha256": self.sha256,
        }


def basic_four_of(cert: x509.Certificate) -> BasicFour | None:
    """The basic four a signing certificate carries; None for any other certificate."""
    try:
        return decode(cert)
    except BasicFourError:
        return None


def basic_four_dict(value: BasicFour) -> dict[str, Any]:
    return {
        "name": value.name, "name_flags": value.name_flags, "sex": int(value.sex),
        "birth_date": value.birth_date.code, "address": value.address,
        "address_flags": value.address_flags,
    }


@dataclass(frozen=True)
class SignatureReport:
    """The verdict on one signature.

    ``signed_data`` holds exactly the bytes the signature covers (never in the JSON): a caller
    that goes on to read the document must read these, not the document it was given.
    """

    index: int
    sub_indication: SubIndication | None
    message: str
    signer: SignerCertificate | None = None
    signed_data_digest: bytes | None = None
    revocation: tuple[Evidence, ...] = ()
    basic_four: BasicFour | None = None
    signed_data: bytes | None = field(default=None, repr=False)

    @property
    def indication(self) -> Indication:
        if self.sub_indication is None:
            return Indication.TOTAL_PASSED
        return self.sub_indication.indication

    @property
    def passed(self) -> bool:
        return self.sub_indication is None

    def to_dict(self, *, include_basic_four: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "indication": self.indication.value,
            "sub_indication": None if self.sub_indication is None else self.sub_indication.value,
            "message": self.message,
            "signer": None if self.signer is None else self.signer.to_dict(),
            "signed_data_digest": None if self.signed_data_digest is None else {
                "algorithm": "sha256", "value": self.signed_data_digest.hex()},
            "revocation": [evidence.to_dict() for evidence in self.revocation],
        }
        if include_basic_four:
            out["basic_four"] = None if self.basic_four is None else basic_four_dict(
                self.basic_four)
        return out


@dataclass(frozen=True)
class Report:
    """Every signature of one document, judged at ``validation_time``."""

    format: Format
    validation_time: datetime
    signatures: tuple[SignatureReport, ...]

    @property
    def indication(self) -> Indication:
        found = {signature.indication for signature in self.signatures}
        if Indication.TOTAL_FAILED in found:
            return Indication.TOTAL_FAILED
        if Indication.INDETERMINATE in found or not found:
            return Indication.INDETERMINATE
        return Indication.TOTAL_PASSED

    def to_dict(self, *, include_basic_four: bool = False) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "format": self.format,
            "validation_time": _time(self.validation_time),
            "indication": self.indication.value,
            "signatures": [s.to_dict(include_basic_four=include_basic_four)
                           for s in self.signatures],
        }

    def to_json(self, *, include_basic_four: bool = False) -> str:
        """The stable JSON form (see the module docstring); UTF-8 text, keys in schema order."""
        return json.dumps(self.to_dict(include_basic_four=include_basic_four),
                          ensure_ascii=False, separators=(",", ":"))
