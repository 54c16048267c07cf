"""Lint, then sign: check an intended certificate before the CA's real signature (DESIGN.md §4).

The CA signs its builder with a throwaway key (``sign_with_throwaway``), lints the DER
(``lint_certificate``), refuses on any ``ERROR`` or ``FATAL`` finding, and only then signs with
the real key. Findings come from pkilint's RFC 5280 validator set, built once per process
(≈ 1.4 ms per certificate when reused), and from the JPKI profile checks in this module, which
catch a builder that drifted from DESIGN.md §4.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pkilint import loader
from pkilint.pkix import certificate, extension, name

from pki import oids
from pki.basic_four import BasicFourError
from pki.basic_four import decode as decode_basic_four
from pki.profile import LEAF_KEY_BITS, CertificateProfile, CertKind, ProfileError, kind_of_ca


class Severity(IntEnum):
    """pkilint's severities; a lower value is more severe."""

    FATAL = 0
    ERROR = 1
    WARNING = 2
    NOTICE = 3
    INFO = 4
    DEBUG = 5


@dataclass(frozen=True)
class Finding:
    """One lint finding: severity, code (``pkix.…`` from pkilint, ``jpki.…`` from here)."""

    severity: Severity
    code: str
    message: str | None = None
    path: str | None = None

    @property
    def blocks_issuance(self) -> bool:
        return self.severity <= Severity.ERROR

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.severity.name} {self.code}{where}" + (f": {self.message}"
                                                               if self.message else "")


def blocks_issuance(findings: Iterable[Finding]) -> bool:
    """Whether any finding is ``ERROR`` or ``FATAL``: the CA then refuses to sign."""
    return any(f.blocks_issuance for f in findings)


# -- pkilint -------------------------------------------------------------------------------------

_LOCK = threading.Lock()  # pkilint does not promise thread safety; validation is ≈ 1.4 ms


@functools.cache
def _rfc5280_validator() -> Any:
    """pkilint's RFC 5280 certificate validator container, as its lint_pkix_cert assembles it."""
    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(
            name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
        ),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


def _pkilint(der: bytes) -> list[Finding]:
    try:
        document = loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate")
    except Exception as exc:  # pkilint raises its own and pyasn1's errors on bad substrate
        return [Finding(Severity.FATAL, "jpki.undecodable_certificate", str(exc))]
    with _LOCK:
        results = _rfc5280_validator().validate(document.root)
    return [
        Finding(Severity(int(d.finding.severity)), d.finding.code, d.message, str(r.node.path))
        for r in results
        for d in r.finding_descriptions
    ]


# -- JPKI profile checks -------------------------------------------------------------------------

_KEY_USAGE = {
    CertificateProfile.ROOT: {"key_cert_sign", "crl_sign"},
    CertificateProfile.LINK: {"key_cert_sign", "crl_sign"},
    CertificateProfile.SIGNING: {"digital_signature", "content_commitment"},
    CertificateProfile.AUTHENTICATION: {"digital_signature"},
    CertificateProfile.OCSP_RESPONDER: {"digital_signature"},
    CertificateProfile.VERIFICATION_SERVICE: {"digital_signature", "content_commitment"},
}
_KU_BITS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
            "key_agreement", "key_cert_sign", "crl_sign")
_EKU = {
    CertificateProfile.AUTHENTICATION: [oids.EKU_CLIENT_AUTH],
    CertificateProfile.OCSP_RESPONDER: [oids.EKU_OCSP_SIGNING],
}
_CA = (CertificateProfile.ROOT, CertificateProfile.LINK)
_LEAVES = {
    CertificateProfile.SIGNING: CertKind.SIGNING,
    CertificateProfile.AUTHENTICATION: CertKind.AUTHENTICATION,
}


def _ext(cert: x509.Certificate, cls: type[Any]) -> x509.Extension[Any] | None:
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


def _check_key_usage(cert: x509.Certificate, kind: CertificateProfile) -> Iterable[str]:
    ku = _ext(cert, x509.KeyUsage)
    if ku is None or not ku.critical:
        yield "jpki.key_usage_missing_or_not_critical"
        return
    present = {bit for bit in _KU_BITS if getattr(ku.value, bit)}
    if present != _KEY_USAGE[kind]:
        yield "jpki.key_usage_bits"


def _check_basics(cert: x509.Certificate, kind: CertificateProfile) -> Iterable[str]:
    if cert.signature_algorithm_oid != oids.SHA256_WITH_RSA:
        yield "jpki.signature_algorithm"
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or (kind in _LEAVES and key.key_size != LEAF_KEY_BITS):
        yield "jpki.public_key"
    try:
        hierarchy = kind_of_ca(cert.issuer)
    except ProfileError:
        yield "jpki.issuer_not_jpki_ca"
        hierarchy = None
    if kind in _CA and cert.subject != cert.issuer:
        yield "jpki.ca_subject_differs_from_issuer"
    if kind in _LEAVES and hierarchy is not None and hierarchy is not _LEAVES[kind]:
        yield "jpki.wrong_hierarchy"
    bc = _ext(cert, x509.BasicConstraints)
    is_ca = bc is not None and bc.value.ca
    if kind in _CA and (bc is None or not bc.critical or not is_ca):
        yield "jpki.basic_constraints"
    if kind not in _CA and is_ca:
        yield "jpki.end_entity_is_ca"
    for cls in (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier):
        if _ext(cert, cls) is None:
            yield f"jpki.{cls.__name__}_missing"


def _check_leaf(cert: x509.Certificate, kind: CertificateProfile) -> Iterable[str]:
    policies = _ext(cert, x509.CertificatePolicies)
    wanted = _LEAVES[kind].policy
    if policies is None or [p.policy_identifier for p in policies.value] != [wanted]:
        yield "jpki.certificate_policy"
    for cls in (x509.IssuerAlternativeName, x509.CRLDistributionPoints,
                x509.AuthorityInformationAccess):
        if _ext(cert, cls) is None:
            yield f"jpki.{cls.__name__}_missing"
    if kind is CertificateProfile.SIGNING:
        try:
            decode_basic_four(cert)
        except BasicFourError:
            yield "jpki.basic_four_san"
    elif _ext(cert, x509.SubjectAlternativeName) is not None:
        yield "jpki.personal_data_in_authentication_certificate"


def _check_eku(cert: x509.Certificate, kind: CertificateProfile) -> Iterable[str]:
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if kind in _EKU and (eku is None or list(eku.value) != _EKU[kind]):
        yield "jpki.extended_key_usage"
    if kind not in _EKU and eku is not None:
        yield "jpki.unexpected_extended_key_usage"
    if kind is CertificateProfile.OCSP_RESPONDER and _ext(cert, x509.OCSPNoCheck) is None:
        yield "jpki.ocsp_nocheck_missing"


def _jpki(der: bytes, kind: CertificateProfile) -> list[Finding]:
    try:
        cert = x509.load_der_x509_certificate(der)
        checks: list[Callable[[x509.Certificate, CertificateProfile], Iterable[str]]] = [
            _check_basics, _check_key_usage, _check_eku,
        ]
        if kind in _LEAVES:
            checks.append(_check_leaf)
        codes = [code for check in checks for code in check(cert, kind)]
    except ValueError as exc:  # cryptography refuses a malformed certificate or extension
        return [Finding(Severity.FATAL, "jpki.unreadable_certificate", str(exc))]
    return [Finding(Severity.ERROR, code, f"not the JPKI {kind.value} profile") for code in codes]


def lint_certificate(der: bytes, kind: CertificateProfile) -> list[Finding]:
    """All findings on a DER certificate intended as ``kind``, most severe first."""
    findings = _pkilint(der)
    if not any(f.severity is Severity.FATAL for f in findings):
        findings += _jpki(der, kind)
    return sorted(findings, key=lambda f: f.severity)


# -- the throwaway signature ---------------------------------------------------------------------

@functools.cache
def _throwaway_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign_with_throwaway(builder: x509.CertificateBuilder) -> bytes:
    """DER of the intended certificate signed with a per-process throwaway RSA-2048 key.

    Every field but the signature value is what the real signature will cover, so linting this
    lints the certificate about to be issued.
    """
    cert = builder.sign(_throwaway_key(), hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)
