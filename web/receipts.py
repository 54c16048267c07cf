"""Receipts (受付結果): the service's signed acknowledgement of each verified submission.

A receipt is a small JSON document (schema ``jpki-verification-receipt/1``)::

    {
      "schema": "jpki-verification-receipt/1",
      "receipt_id": "0f8c…",                       // random, unique per receipt
      "received_at": "2026-04-01T01:00:00Z",        // the report's validation time
      "format": "xml" | "cms" | "pdf",
      "document_sha256": "…",      // the XML or PDF as received; for CMS the signed content
      "signature_sha256": null | "…",               // the detached CMS signature, if any
      "report_sha256": "…",        // the report exactly as served, without its "receipt" key
      "indication": "TOTAL_PASSED" | "TOTAL_FAILED" | "INDETERMINATE",
      "signatures": [{"index": 0, "issuer": "OU=…", "issuer_key_id": "…" | null,
                      "serial": "…" | null, "indication": "…", "sub_indication": … | null}]
    }

wrapped in a CMS SignedData (RFC 5652) with the JSON as attached ``id-data`` content, signed
(RSA-2048, SHA-256, PKCS #1 v1.5) over signed attributes: content type, message digest,
signing time (= ``received_at``) and ESS signing-certificate-v2 (RFC 5035). The signer's
certificate is embedded; it is issued by the signing CA's current generation, so
``openssl cms -verify -CAfile sign-1.pem -in receipt.der -inform DER`` checks a receipt with
nothing but our signing root.

The service key lives in the instance key store under ``<generation>-receipt`` (e.g.
``sign-1-receipt``), next to the CA and OCSP responder keys. It is created lazily, at the first
receipt, exactly as the delegated OCSP responder's key is (``web.revocation_wiring``): ``jpki
init`` and ``jpki ca init`` stay as they are, an instance that never verifies never has one,
and after a rollover of the signing CA the next receipt gets a key and certificate of the new
generation by itself. The certificate is found again in the CA's issued store and renewed a day
before it expires (``CertificateAuthority.service_certificate``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ca.authority import CertificateAuthority
from ca.errors import KeyStoreError
from ca.keystore import KeyStore
from pki.clock import Clock
from pki.profile import CertKind
from pki.verify import Report

SCHEMA = "jpki-verification-receipt/1"
LABEL_SUFFIX = "-receipt"
RENEW_BEFORE = timedelta(days=1)


@dataclass(frozen=True)
class Submission:
    """What was received: the document (the signed content for a detached CMS signature) and
    the detached signature if there was one."""

    document: bytes
    signature: bytes | None = None


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def receipt_content(submission: Submission, report: Report, report_json: bytes,
                    received_at: datetime, receipt_id: str) -> dict[str, Any]:
    """The receipt's JSON object (see the module docstring)."""
    signatures = []
    for signature in report.signatures:
        signer = signature.signer
        signatures.append({
            "index": signature.index,
            "issuer": signer.issuer if signer is not None else None,
            "issuer_key_id": signer.issuer_key_id if signer is not None else None,
            "serial": str(signer.serial) if signer is not None else None,
            "indication": signature.indication.value,
            "sub_indication": (signature.sub_indication.value
                               if signature.sub_indication is not None else None),
        })
    return {
        "schema": SCHEMA,
        "receipt_id": receipt_id,
        "received_at": _time(received_at),
        "format": report.format,
        "document_sha256": _sha256(submission.document),
        "signature_sha256": (_sha256(submission.signature)
                             if submission.signature is not None else None),
        "report_sha256": _sha256(report_json),
        "indication": report.indication.value,
        "signatures": signatures,
    }


# The SignedData is written directly in DER: asn1crypto re-encodes a whole certificate each
# time one is placed in a new structure (≈ 14 ms a receipt), which would cost the endpoint a
# third of its throughput. Only what depends on the signer's certificate goes through
# asn1crypto, once per certificate (``_SignerParts``); every receipt then costs one RSA
# signature and a few concatenations. Tests parse the result with asn1crypto and openssl.

def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _tlv(tag: int, *parts: bytes) -> bytes:
    content = b"".join(parts)
    return bytes([tag]) + _length(len(content)) + content


def _oid(dotted: str) -> bytes:
    return bytes(core.ObjectIdentifier(dotted).dump())


_SEQUENCE, _SET, _OCTETS, _CONTEXT_0 = 0x30, 0x31, 0x04, 0xA0
_VERSION_1 = bytes(core.Integer(1).dump())
_ID_DATA = _oid("1.2.840.113549.1.7.1")
_ID_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_SHA256 = _tlv(_SEQUENCE, _oid("2.16.840.1.101.3.4.2.1"))  # RFC 5754 §2: no parameters
_SHA256_RSA = _tlv(_SEQUENCE, _oid("1.2.840.113549.1.1.11"), b"\x05\x00")  # RFC 4055: NULL
_CONTENT_TYPE = _tlv(_SEQUENCE, _oid("1.2.840.113549.1.9.3"), _tlv(_SET, _ID_DATA))
_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_SIGNING_TIME = _oid("1.2.840.113549.1.9.5")


def _cms_time(at: datetime) -> bytes:
    """RFC 5652 §11.3: UTCTime through 2049, GeneralizedTime from 2050."""
    at = at.astimezone(UTC)
    if at.year < 2050:
        return _tlv(0x17, at.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _tlv(0x18, at.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


@dataclass(frozen=True)
class _SignerParts:
    """The DER pieces that depend only on the signer's certificate."""

    certificate: bytes
    sid: bytes  # IssuerAndSerialNumber
    signing_certificate: bytes  # the ESS signing-certificate-v2 attribute (RFC 5035)

    @classmethod
    @functools.lru_cache(maxsize=8)
    def of(cls, der: bytes) -> _SignerParts:
        cert = asn1_x509.Certificate.load(der)
        sid = cms.IssuerAndSerialNumber({"issuer": cert.issuer,
                                         "serial_number": cert.serial_number})
        attribute = cms.CMSAttribute({"type": "signing_certificate_v2", "values": [
            tsp.SigningCertificateV2({"certs": [tsp.ESSCertIDv2({
                "cert_hash": hashlib.sha256(der).digest(),
                "issuer_serial": {
                    "issuer": [asn1_x509.GeneralName({"directory_name": cert.issuer})],
                    "serial_number": cert.serial_number}})]})]})
        return cls(der, bytes(sid.dump()), bytes(attribute.dump()))


def signed_data(content: bytes, certificate: x509.Certificate, key: rsa.RSAPrivateKey,
                signing_time: datetime) -> bytes:
    """A CMS SignedData (DER) carrying ``content`` as attached id-data, signed by ``key`` over
    the signed attributes content type, message digest, signing time and
    signing-certificate-v2."""
    signer = _SignerParts.of(certificate.public_bytes(Encoding.DER))
    attributes = [
        _CONTENT_TYPE,
        _tlv(_SEQUENCE, _MESSAGE_DIGEST,
             _tlv(_SET, _tlv(_OCTETS, hashlib.sha256(content).digest()))),
        _tlv(_SEQUENCE, _SIGNING_TIME, _tlv(_SET, _cms_time(signing_time))),
        signer.signing_certificate,
    ]
    # DER: the members of a SET OF in the order of their encodings (X.690 §11.6). The
    # signature covers the attributes with the SET tag; they are stored as [0] IMPLICIT.
    signed_attrs = _tlv(_SET, *sorted(attributes))
    signature = key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
    signer_info = _tlv(_SEQUENCE, _VERSION_1, signer.sid, _SHA256,
                       bytes([_CONTEXT_0]) + signed_attrs[1:], _SHA256_RSA,
                       _tlv(_OCTETS, signature))
    data = _tlv(_SEQUENCE, _VERSION_1, _tlv(_SET, _SHA256),
                _tlv(_SEQUENCE, _ID_DATA, _tlv(_CONTEXT_0, _tlv(_OCTETS, content))),
                _tlv(_CONTEXT_0, signer.certificate), _tlv(_SET, signer_info))
    return _tlv(_SEQUENCE, _ID_SIGNED_DATA, _tlv(_CONTEXT_0, data))


def open_receipt(der: bytes) -> dict[str, Any]:
    """The JSON content of a receipt (its signature is *not* checked here: use
    ``openssl cms -verify`` or any CMS verifier with our signing root)."""
    info = cms.ContentInfo.load(der)
    content = info["content"]["encap_content_info"]["content"].native
    found = json.loads(content)
    if not isinstance(found, dict) or found.get("schema") != SCHEMA:
        raise ValueError("not a jpki verification receipt")
    return found


@dataclass(frozen=True)
class _Signer:
    issuer_key_id: str
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


GENERATION_RECHECK = 60.0  # seconds between reads of the signing CA's current generation


class Receipts:
    """Signs receipts with the service key of the signing CA's current generation."""

    def __init__(self, ca: CertificateAuthority, keys: KeyStore, clock: Clock) -> None:
        self._ca = ca
        self._keys = keys
        self._clock = clock
        self._lock = threading.Lock()
        self._signer: _Signer | None = None
        self._checked = -GENERATION_RECHECK  # monotonic time of the last generation check

    def issue(self, submission: Submission, report: Report, report_json: bytes) -> bytes:
        """The signed receipt (CMS DER) of one verified submission; ``report_json`` is the
        report exactly as the caller serves it."""
        received_at = report.validation_time
        content = receipt_content(submission, report, report_json, received_at,
                                  uuid.uuid4().hex)
        body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        signer = self._current()
        return signed_data(body, signer.certificate, signer.key, received_at)

    def certificate(self) -> x509.Certificate:
        """The certificate receipts are signed with now."""
        return self._current().certificate

    def _current(self) -> _Signer:
        with self._lock:
            cached = self._signer
            if (cached is not None and time.monotonic() - self._checked < GENERATION_RECHECK
                    and cached.certificate.not_valid_after_utc > self._clock.now()
                    + RENEW_BEFORE):
                return cached  # a rollover is noticed within GENERATION_RECHECK seconds
        generation = self._ca.current(CertKind.SIGNING)
        with self._lock:
            self._checked = time.monotonic()
            cached = self._signer
            if (cached is not None and cached.issuer_key_id == generation.key_id
                    and cached.certificate.not_valid_after_utc > self._clock.now()
                    + RENEW_BEFORE):
                return cached
            label = generation.name + LABEL_SUFFIX
            try:
                public_key = self._keys.public_key(label)
            except KeyStoreError:
                try:
                    public_key = self._keys.create_key(label)
                except KeyStoreError:  # another process created it first
                    public_key = self._keys.public_key(label)
            certificate = self._ca.service_certificate(public_key, min_remaining=RENEW_BEFORE)
            self._signer = _Signer(generation.key_id, certificate, self._keys.signer(label))
            return self._signer


def with_receipt(report_json: bytes, receipt: bytes) -> bytes:
    """The served body: the report's JSON object with ``"receipt"`` (base64 DER) added as its
    last key, so that the report's digest is that of the body without it."""
    if not report_json.endswith(b"}"):
        raise ValueError("the report is not a JSON object")
    encoded = base64.b64encode(receipt).decode("ascii")
    return report_json[:-1] + b',"receipt":"' + encoded.encode("ascii") + b'"}'
