"""Path validation and revocation for a signer's certificate, with pyhanko-certvalidator.

Trust comes only from the caller's :class:`TrustStore` (JPKI roots of every generation and their
link certificates). Revocation evidence comes only from the caller's :class:`RevocationEvidence`
port (our own revocation service): nothing is ever fetched. The signer's certificate needs a CRL
or an OCSP response that covers the validation time; without one the answer is
INDETERMINATE/TRY_LATER, never a pass. Link certificates carry no CRL distribution point or OCSP
URL, so they are checked only if they ever declare one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Literal, Protocol

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from pki import oids
from pki.verify.path_cache import PathCache, evidence_until, path_key
from pki.verify.report import (
    Evidence,
    SignatureReport,
    SignerCertificate,
    SubIndication,
    basic_four_of,
)

REVOCATION_POLICY = CertRevTrustPolicy(RevocationCheckingPolicy(
    ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
))


class RevocationEvidence(Protocol):
    """Where the verifier gets revocation status: our own CRLs and OCSP responses, as DER.

    ``crls`` is asked only when no OCSP response covers the validation time (CRLs are large).
    Return ``None`` / ``[]`` when there is nothing; raise :class:`EvidenceUnavailable` when the
    source cannot answer right now. Either way the signature is INDETERMINATE/TRY_LATER.
    """

    def ocsp_response(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes | None: ...

    def crls(self, cert: x509.Certificate) -> list[bytes]: ...


class EvidenceUnavailable(Exception):
    """The revocation source cannot answer now (the verdict becomes TRY_LATER)."""


class NoEvidence:
    """A source with nothing to offer: every signature ends INDETERMINATE/TRY_LATER."""

    def ocsp_response(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes | None:
        return None

    def crls(self, cert: x509.Certificate) -> list[bytes]:
        return []


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


@dataclass(frozen=True)
class TrustStore:
    """The JPKI roots a verifier trusts, the link certificates between their generations, and
    what a signer's certificate must say: one of ``policies`` and every one of ``key_usage``
    (pyhanko-certvalidator names). The defaults are those of a signing certificate (§4).

    A trust store keeps what it derives for path validation (the roots in pyhanko's form, the
    :class:`~pki.verify.path_cache.PathCache` of passing validations): keep one instance for
    as long as the roots and links do not change, and make a new one when they do. ``reload``,
    if given, is asked for the current trust store when a certificate names an issuer that is
    none of these roots and links (the CA may have rolled over since this one was made); it
    may answer this very store."""

    roots: tuple[x509.Certificate, ...]
    links: tuple[x509.Certificate, ...] = ()
    policies: frozenset[x509.ObjectIdentifier] = frozenset({oids.POLICY_SIGNING})
    key_usage: frozenset[str] = frozenset({"digital_signature", "non_repudiation"})
    path_cache: PathCache = field(default_factory=PathCache, compare=False, repr=False)
    reload: Callable[[], TrustStore] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.roots:
            raise ValueError("a trust store needs at least one root")

    @cached_property
    def _asn1_roots(self) -> list[asn1_x509.Certificate]:
        return [_asn1(cert) for cert in self.roots]

    @cached_property
    def _asn1_links(self) -> list[asn1_x509.Certificate]:
        return [_asn1(cert) for cert in self.links]

    def issuer_of(self, cert: x509.Certificate,
                  others: Iterable[x509.Certificate] = ()) -> x509.Certificate | None:
        """A certificate that may have issued ``cert`` (same name and key id); for OCSP."""
        wanted = _key_id(cert, x509.AuthorityKeyIdentifier)
        for candidate in (*self.roots, *self.links, *others):
            if candidate.subject != cert.issuer:
                continue
            if wanted is None or _key_id(candidate, x509.SubjectKeyIdentifier) == wanted:
                return candidate
        return None


def _key_id(cert: x509.Certificate,
            kind: type[x509.AuthorityKeyIdentifier] | type[x509.SubjectKeyIdentifier]
            ) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return value.digest


PASSED = "the signature and the signer's certificate are valid"


@dataclass(frozen=True)
class ChainOutcome:
    """The result of path validation: ``sub_indication`` None means the certificate holds."""

    sub_indication: SubIndication | None
    message: str
    evidence: tuple[Evidence, ...] = ()


def _digest(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _reason(flag: x509.ReasonFlags | None) -> str | None:
    return None if flag is None else flag.name


def _ocsp_status(status: ocsp.OCSPCertStatus) -> Literal["good", "revoked", "unknown"]:
    if status is ocsp.OCSPCertStatus.GOOD:
        return "good"
    if status is ocsp.OCSPCertStatus.REVOKED:
        return "revoked"
    return "unknown"


def _ocsp_evidence(der: bytes, cert: x509.Certificate) -> Evidence | None:
    """What a (readable, successful) OCSP response says about ``cert``, if anything."""
    response = ocsp.load_der_ocsp_response(der)
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None
    for single in response.responses:
        if single.serial_number == cert.serial_number:
            return Evidence("ocsp", response.produced_at_utc, single.this_update_utc,
                            single.next_update_utc, _ocsp_status(single.certificate_status),
                            single.revocation_time_utc, _reason(single.revocation_reason),
                            _digest(der))
    return None


def _crl_evidence(der: bytes, cert: x509.Certificate) -> Evidence | None:
    """What a readable CRL of ``cert``'s issuer says about it: listed (revoked) or not (good)."""
    crl = x509.load_der_x509_crl(der)
    if crl.issuer != cert.issuer:
        return None
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return Evidence("crl", crl.last_update_utc, crl.last_update_utc, crl.next_update_utc,
                        "good", None, None, _digest(der))
    try:
        reason: x509.ReasonFlags | None = entry.extensions.get_extension_for_class(
            x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        reason = None
    return Evidence("crl", crl.last_update_utc, crl.last_update_utc, crl.next_update_utc,
                    "revoked", entry.revocation_date_utc, _reason(reason), _digest(der))


@dataclass(frozen=True)
class _Gathered:
    ocsps: list[bytes]
    crls: list[bytes]
    about_cert: tuple[Evidence, ...]


def _covers(evidence: Evidence, at: datetime) -> bool:
    return evidence.this_update <= at and (evidence.next_update is None
                                           or at <= evidence.next_update)


def _gather(cert: x509.Certificate, issuer: x509.Certificate | None,
            source: RevocationEvidence, at: datetime) -> _Gathered:
    """Ask the source for OCSP, and for CRLs only when no OCSP response covers ``at``.

    Only evidence that parses is kept (the rest counts as no evidence).
    """
    response = source.ocsp_response(cert, issuer) if issuer is not None else None
    ocsps: list[bytes] = []
    crls: list[bytes] = []
    about: list[Evidence] = []
    for der in [response] if response else []:
        try:
            found = _ocsp_evidence(der, cert)
        except ValueError:
            continue
        ocsps.append(der)
        if found is not None:
            about.append(found)
    if not any(_covers(e, at) for e in about):
        for der in source.crls(cert):
            try:
                found = _crl_evidence(der, cert)
            except ValueError:
                continue
            crls.append(der)
            if found is not None:
                about.append(found)
    return _Gathered(ocsps, crls, tuple(about))


def _policy_problem(cert: x509.Certificate,
                    wanted: frozenset[x509.ObjectIdentifier]) -> str | None:
    if not wanted:
        return None
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except (x509.ExtensionNotFound, ValueError):
        return "the certificate names no certificate policy"
    if not {p.policy_identifier for p in policies} & wanted:
        return "the certificate's policy is not one accepted for this kind of signature"
    return None


def check_chain(cert: x509.Certificate, others: Sequence[x509.Certificate], *,
                trust: TrustStore, evidence: RevocationEvidence, at: datetime) -> ChainOutcome:
    """Validate ``cert`` at ``at`` up to a root of ``trust``, with the evidence ``evidence`` has.

    ``others`` are untrusted certificates that came with the signature (path candidates only).
    """
    if trust.reload is not None and trust.issuer_of(cert) is None:
        trust = trust.reload()  # perhaps a newer CA generation's certificate
    issuer = trust.issuer_of(cert, others)
    try:
        gathered = _gather(cert, issuer, evidence, at)
    except EvidenceUnavailable as exc:
        return ChainOutcome(SubIndication.TRY_LATER, f"revocation status unavailable: {exc}")
    used = gathered.about_cert
    key = path_key(cert, others, gathered.ocsps, gathered.crls)
    if trust.path_cache.passed(key, at):
        return ChainOutcome(None, PASSED, used)
    try:
        context = ValidationContext(
            trust_roots=trust._asn1_roots,
            other_certs=[*trust._asn1_links, *(_asn1(c) for c in others)],
            moment=at, allow_fetching=False, revinfo_policy=REVOCATION_POLICY,
            ocsps=gathered.ocsps, crls=gathered.crls,
        )
        validator = CertificateValidator(_asn1(cert), validation_context=context)
        path = asyncio.run(validator.async_validate_usage(set(trust.key_usage)))
    except (PathError, ValidationError, ValueError, TypeError, KeyError) as exc:
        return ChainOutcome(_sub_indication(exc), _message(exc), used)
    problem = _policy_problem(cert, trust.policies)
    if problem is not None:
        return ChainOutcome(SubIndication.CHAIN_CONSTRAINTS_FAILURE, problem, used)
    until = _holds_until(path, gathered, trust, others)
    if until is not None:
        trust.path_cache.remember(key, at, until)
    return ChainOutcome(None, PASSED, used)


def _holds_until(path: ValidationPath, gathered: _Gathered, trust: TrustStore,
                 others: Sequence[x509.Certificate]) -> datetime | None:
    """Until when a passing validation stays valid (see :mod:`pki.verify.path_cache`)."""
    certs = list(path.iter_certs(include_root=True))
    try:
        evidence = evidence_until(gathered.ocsps, gathered.crls,
                                  frozenset(c.serial_number for c in certs),
                                  lambda responder: trust.issuer_of(responder, others))
    except ValueError:
        return None
    if evidence is None:
        return None
    return min([evidence, *(c.not_valid_after for c in certs)])


def _sub_indication(exc: Exception) -> SubIndication:
    if isinstance(exc, PathBuildingError):
        return SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    if isinstance(exc, RevokedError):
        return SubIndication.REVOKED if exc.is_ee_cert else SubIndication.REVOKED_CA_NO_POE
    if isinstance(exc, ExpiredError) and exc.is_ee_cert:
        return SubIndication.EXPIRED
    if isinstance(exc, NotYetValidError) and exc.is_ee_cert:
        return SubIndication.NOT_YET_VALID
    if isinstance(exc, InsufficientRevinfoError):
        return SubIndication.TRY_LATER
    if isinstance(exc, DisallowedAlgorithmError):
        return SubIndication.CRYPTO_CONSTRAINTS_FAILURE
    if isinstance(exc, InvalidCertificateError):
        return SubIndication.CHAIN_CONSTRAINTS_FAILURE
    return SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE


def _message(exc: Exception) -> str:
    if isinstance(exc, PathBuildingError):
        return "no path from the signer's certificate to a trusted JPKI root"
    if isinstance(exc, ValidationError):
        return exc.failure_msg
    return f"the certificate path could not be validated: {exc}"


@dataclass(frozen=True)
class Context:
    """What every verifier needs besides the document."""

    trust: TrustStore
    evidence: RevocationEvidence
    at: datetime

    def __post_init__(self) -> None:
        if self.at.utcoffset() is None:
            raise ValueError("the validation time must be an aware datetime")


def assess(index: int, signer: x509.Certificate, others: Sequence[x509.Certificate], *,
           signed_data_digest: bytes, signed_data: bytes | None,
           context: Context) -> SignatureReport:
    """The report of a signature whose cryptography holds: its certificate decides the rest."""
    chain = check_chain(signer, others, trust=context.trust, evidence=context.evidence,
                        at=context.at)
    return SignatureReport(
        index, chain.sub_indication, chain.message, signer=SignerCertificate.of(signer),
        signed_data_digest=signed_data_digest, revocation=chain.evidence,
        basic_four=basic_four_of(signer), signed_data=signed_data,
    )


def refused(index: int, sub_indication: SubIndication, message: str,
            signer: x509.Certificate | None = None) -> SignatureReport:
    """The report of a signature that failed before its certificate was looked at."""
    return SignatureReport(index, sub_indication, message,
                           signer=None if signer is None else SignerCertificate.of(signer))
