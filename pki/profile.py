"""Certificate builders of the JPKI-style profile (DESIGN.md §4).

Each builder returns an ``x509.CertificateBuilder`` ready to sign; ``sign()`` signs one with
sha256WithRSAEncryption. The private key may be any ``rsa.RSAPrivateKey``, including a subclass
that forwards ``sign()`` to an HSM. Nothing here holds keys, allocates serials or stores anything:
the CA does that, and lints the builder's result (``pki.lint``) before the real signature.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from pki import oids
from pki.basic_four import BasicFour
from pki.basic_four import encode as encode_basic_four

LEAF_KEY_BITS: Final = 2048  # DESIGN.md §4: leaves are RSA-2048
MIN_CA_KEY_BITS: Final = 2048
SERIAL_BITS: Final = 159  # < 2^159: a positive INTEGER of at most 20 octets (RFC 5280 §4.1.2.2)
MIN_SERIAL_BITS: Final = 64  # a random serial has at least 64 bits; a short one is a CA bug
JPKI_ISSUER_NAME: Final = "公的個人認証サービス"  # issuerAltName O=… of every leaf
_OPAQUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # ub-common-name is 64


class ProfileError(ValueError):
    """A certificate that the profile does not allow (wrong key, issuer, validity or field)."""


class CertKind(Enum):
    """The two hierarchies, and their end-entity certificates."""

    SIGNING = "sign"  # 署名用電子証明書
    AUTHENTICATION = "auth"  # 利用者証明用電子証明書

    @property
    def organizational_unit(self) -> str:
        return {
            CertKind.SIGNING: "JPKI for digital signature",
            CertKind.AUTHENTICATION: "JPKI for user authentication",
        }[self]

    @property
    def policy(self) -> x509.ObjectIdentifier:
        return {
            CertKind.SIGNING: oids.POLICY_SIGNING,
            CertKind.AUTHENTICATION: oids.POLICY_AUTHENTICATION,
        }[self]


class CertificateProfile(Enum):
    """Every certificate type the CA issues; ``pki.lint`` checks each against its profile."""

    ROOT = "root"
    LINK = "link"
    SIGNING = "signing"
    AUTHENTICATION = "authentication"
    OCSP_RESPONDER = "ocsp-responder"
    VERIFICATION_SERVICE = "verification-service"


@dataclass(frozen=True)
class Endpoints:
    """Where relying parties find a leaf's revocation status and its issuer (HTTP URLs).

    ``crl_url`` is the issuing municipality's CRL partition; ``ca_issuers_url`` serves the
    issuing CA's certificate.
    """

    crl_url: str
    ocsp_url: str
    ca_issuers_url: str

    def __post_init__(self) -> None:
        for field in ("crl_url", "ocsp_url", "ca_issuers_url"):
            url = getattr(self, field)
            parts = urlsplit(url)
            if parts.scheme != "http" or not parts.netloc or not url.isascii():
                raise ProfileError(f"{field} must be a plain http:// URL, not {url!r}")


@functools.cache
def ca_name(kind: CertKind) -> x509.Name:
    """The DN shared by every generation of a root: ``C=JP, O=JPKI, OU=…`` (immutable)."""
    return x509.Name([
        x509.NameAttribute(oids.COUNTRY, "JP"),
        x509.NameAttribute(oids.ORGANIZATION, "JPKI"),
        x509.NameAttribute(oids.ORGANIZATIONAL_UNIT, kind.organizational_unit),
    ])


def kind_of_ca(name: x509.Name) -> CertKind:
    """Which hierarchy a CA DN belongs to; refuses a DN that is not a JPKI root's."""
    for kind in CertKind:
        if name == ca_name(kind):
            return kind
    raise ProfileError(f"{name.rfc4514_string()} is not a JPKI CA name")


def random_serial() -> int:
    """A random positive serial: 158 random bits under a fixed top bit, always 20 DER octets."""
    return (1 << (SERIAL_BITS - 1)) | secrets.randbits(SERIAL_BITS - 1)


def sign(builder: x509.CertificateBuilder, private_key: rsa.RSAPrivateKey) -> x509.Certificate:
    """Sign with sha256WithRSAEncryption (PKCS #1 v1.5)."""
    return builder.sign(private_key, hashes.SHA256())


# -- shared pieces -------------------------------------------------------------------------------

def _distribution(endpoints: Endpoints) -> tuple[x509.CRLDistributionPoints,
                                                  x509.AuthorityInformationAccess]:
    """The CRL distribution point and the AIA (OCSP responder, CA certificate) of a leaf."""
    crl_dp = x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(endpoints.crl_url)],
        relative_name=None, reasons=None, crl_issuer=None,
    )])
    aia = x509.AuthorityInformationAccess([
        x509.AccessDescription(oids.OCSP, x509.UniformResourceIdentifier(endpoints.ocsp_url)),
        x509.AccessDescription(
            oids.CA_ISSUERS, x509.UniformResourceIdentifier(endpoints.ca_issuers_url)
        ),
    ])
    return crl_dp, aia


def _check_key(public_key: object, *, leaf: bool) -> rsa.RSAPublicKey:
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ProfileError("the profile uses RSA keys only")
    if leaf and public_key.key_size != LEAF_KEY_BITS:
        raise ProfileError(f"a leaf key must be RSA-{LEAF_KEY_BITS}, not {public_key.key_size}")
    if public_key.key_size < MIN_CA_KEY_BITS:
        raise ProfileError(f"a CA key must be at least RSA-{MIN_CA_KEY_BITS}")
    return public_key


def _instant(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ProfileError(f"{what} must be an aware datetime")
    return value.astimezone(UTC).replace(microsecond=0)


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    issuer_cert: x509.Certificate | None,
) -> x509.CertificateBuilder:
    """Names, key, serial, validity, SKI and AKI common to every certificate."""
    if not 1 << (MIN_SERIAL_BITS - 1) <= serial < 1 << SERIAL_BITS:
        raise ProfileError(f"the serial must have {MIN_SERIAL_BITS} to {SERIAL_BITS} bits")
    start, end = _instant(not_before, "not_before"), _instant(not_after, "not_after")
    if start >= end:
        raise ProfileError("not_before must come before not_after")
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    if issuer_cert is None:
        aki = x509.AuthorityKeyIdentifier(ski.digest, None, None)
    else:
        within = issuer_cert.not_valid_before_utc <= start <= end
        if not (within and end <= issuer_cert.not_valid_after_utc):
            raise ProfileError("the validity must lie within the issuing CA's validity")
        try:
            issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound as exc:
            raise ProfileError("the issuing CA certificate has no subject key identifier") from exc
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski.value)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(ski, critical=False)
        .add_extension(aki, critical=False)
    )


def _key_usage(*, digital_signature: bool = False, non_repudiation: bool = False,
               ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=non_repudiation,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
    )


def _ca_extensions(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    return (
        builder
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
    )


# -- CA certificates -----------------------------------------------------------------------------

def root_certificate(
    kind: CertKind,
    public_key: rsa.RSAPublicKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    """A self-signed root of one generation; to be signed with the matching private key.

    basicConstraints CA (critical, no path length: the hierarchy is flat and link certificates
    are self-issued), keyUsage keyCertSign + cRLSign (critical), SKI, and AKI = the own SKI.
    """
    key = _check_key(public_key, leaf=False)
    name = ca_name(kind)
    return _ca_extensions(_base(name, name, key, serial, not_before, not_after, None))


def link_certificate(
    issuer: x509.Certificate,
    subject_public_key: rsa.RSAPublicKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    """A key-rollover link certificate: the issuer's DN on both sides, another generation's key.

    RFC 4210 §4.4 names the two links of a rollover: *NewWithOld* certifies the new public key
    and is signed with the old private key; *OldWithNew* certifies the old public key and is
    signed with the new private key. Both are self-issued (subject DN = issuer DN) CA certificates
    that a path validator matches by AKI/SKI, not by name alone:

    - a relying party that trusts only the old root validates a new-generation leaf as
      old root → NewWithOld → leaf (the leaf's AKI = the new key's SKI = NewWithOld's SKI, and
      NewWithOld's AKI = the old root's SKI);
    - one that trusts only the new root validates an old-generation leaf as
      new root → OldWithNew → leaf.

    Self-issued certificates do not count against path lengths (RFC 5280 §6.1.4 (l)). Sign the
    result with the private key of ``issuer``.
    """
    key = _check_key(subject_public_key, leaf=False)
    kind_of_ca(issuer.subject)
    builder = _base(issuer.subject, issuer.subject, key, serial, not_before, not_after, issuer)
    return _ca_extensions(builder)


def new_with_old(
    old_root: x509.Certificate, new_public_key: rsa.RSAPublicKey, *, serial: int,
    not_before: datetime, not_after: datetime,
) -> x509.CertificateBuilder:
    """NewWithOld: the new key, certified by the old generation (sign with the old key)."""
    return link_certificate(old_root, new_public_key, serial=serial, not_before=not_before,
                            not_after=not_after)


def old_with_new(
    new_root: x509.Certificate, old_public_key: rsa.RSAPublicKey, *, serial: int,
    not_before: datetime, not_after: datetime,
) -> x509.CertificateBuilder:
    """OldWithNew: the old key, certified by the new generation (sign with the new key)."""
    return link_certificate(new_root, old_public_key, serial=serial, not_before=not_before,
                            not_after=not_after)


def ocsp_responder_certificate(
    issuer: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    common_name: str = "OCSP Responder",
) -> x509.CertificateBuilder:
    """A delegated OCSP responder of one CA generation (RFC 6960 §4.2.2.2).

    Subject: the CA's DN plus ``CN=common_name``; keyUsage digitalSignature (critical), EKU
    OCSPSigning, and id-pkix-ocsp-nocheck so clients do not ask for the responder's own status.
    Sign with the private key of ``issuer``; keep the validity short.
    """
    key = _check_key(public_key, leaf=False)
    kind_of_ca(issuer.subject)
    if not common_name or len(common_name) > 64:
        raise ProfileError("the responder's common name must have 1 to 64 characters")
    subject = x509.Name([*issuer.subject, x509.NameAttribute(oids.COMMON_NAME, common_name)])
    return (
        _base(subject, issuer.subject, key, serial, not_before, not_after, issuer)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([oids.EKU_OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
    )


# -- end-entity certificates ---------------------------------------------------------------------

def _leaf(
    kind: CertKind,
    issuer: x509.Certificate,
    subject: x509.Name,
    public_key: rsa.RSAPublicKey,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    endpoints: Endpoints,
) -> x509.CertificateBuilder:
    key = _check_key(public_key, leaf=True)
    if kind_of_ca(issuer.subject) is not kind:
        raise ProfileError(f"a {kind.name.lower()} certificate needs the {kind.name.lower()} CA")
    issuer_alt_name = x509.IssuerAlternativeName([x509.DirectoryName(
        x509.Name([x509.NameAttribute(oids.ORGANIZATION, JPKI_ISSUER_NAME)])
    )])
    crl_dp, aia = _distribution(endpoints)
    policies = x509.CertificatePolicies([x509.PolicyInformation(kind.policy, None)])
    return (
        _base(subject, issuer.subject, key, serial, not_before, not_after, issuer)
        .add_extension(policies, critical=False)
        .add_extension(issuer_alt_name, critical=False)
        .add_extension(crl_dp, critical=False)
        .add_extension(aia, critical=False)
    )


def _opaque_id(value: str) -> str:
    if not _OPAQUE_ID.fullmatch(value):
        raise ProfileError(f"{value!r} is not an opaque id (1-64 of A-Z a-z 0-9 . _ -)")
    return value


def _place(value: str, what: str) -> str:
    if not value or len(value) > 128 or not value.isprintable():  # ub-locality-name is 128
        raise ProfileError(f"the {what} must be 1 to 128 printable characters")
    return value


def signing_certificate(
    issuer: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    prefecture: str,
    municipality: str,
    issuance_id: str,
    basic_four: BasicFour,
    endpoints: Endpoints,
) -> x509.CertificateBuilder:
    """A signing certificate (署名用電子証明書) carrying the basic four in its SAN.

    Subject ``C=JP, L=<prefecture>, L=<municipality>, CN=<issuance id>``; keyUsage
    digitalSignature + nonRepudiation (critical); the signing policy; no extendedKeyUsage (the
    key signs documents, not protocol messages).
    """
    subject = x509.Name([
        x509.NameAttribute(oids.COUNTRY, "JP"),
        x509.NameAttribute(oids.LOCALITY, _place(prefecture, "prefecture")),
        x509.NameAttribute(oids.LOCALITY, _place(municipality, "municipality")),
        x509.NameAttribute(oids.COMMON_NAME, _opaque_id(issuance_id)),
    ])
    return (
        _leaf(CertKind.SIGNING, issuer, subject, public_key, serial, not_before, not_after,
              endpoints)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(encode_basic_four(basic_four), critical=False)
    )


def authentication_certificate(
    issuer: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    subject_id: str,
    endpoints: Endpoints,
) -> x509.CertificateBuilder:
    """An authentication certificate (利用者証明用電子証明書): no personal data.

    Subject ``CN=<opaque id>`` only; keyUsage digitalSignature (critical); the authentication
    policy; extendedKeyUsage clientAuth (non-critical): the key proves possession in logins,
    challenge–response or TLS client authentication, and must not pass for a server or a
    document signer.
    """
    subject = x509.Name([x509.NameAttribute(oids.COMMON_NAME, _opaque_id(subject_id))])
    return (
        _leaf(CertKind.AUTHENTICATION, issuer, subject, public_key, serial, not_before,
              not_after, endpoints)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([oids.EKU_CLIENT_AUTH]), critical=False)
    )


# -- service certificates ------------------------------------------------------------------------

def verification_service_certificate(
    issuer: x509.Certificate,
    public_key: rsa.RSAPublicKey,
    *,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    endpoints: Endpoints,
    common_name: str = "Verification Receipt Service",
) -> x509.CertificateBuilder:
    """The verification service's own signing certificate: it signs the receipt (受付結果) of
    each verified submission, issued by the signing CA's current generation.

    Subject: the CA's DN plus ``CN=common_name`` (like a delegated OCSP responder: an
    organisation's service, not a resident); RSA-2048; keyUsage digitalSignature +
    nonRepudiation (critical), since a receipt commits the service to what it received and
    answered; no extendedKeyUsage (as the residents' signing certificates, so that
    ``openssl cms -verify`` accepts it for its default S/MIME signing purpose); no
    certificatePolicies and no basic four: it is not a JPKI signing certificate and must not
    pass for one. The CRL distribution point is the generation's full CRL (the service
    belongs to no municipality) and AIA names our OCSP responder and the CA certificate.
    """
    key = _check_key(public_key, leaf=True)
    if kind_of_ca(issuer.subject) is not CertKind.SIGNING:
        raise ProfileError("the verification service's certificate comes from the signing CA")
    if not common_name or len(common_name) > 64 or not common_name.isprintable():
        raise ProfileError("the service's common name must have 1 to 64 characters")
    subject = x509.Name([*issuer.subject, x509.NameAttribute(oids.COMMON_NAME, common_name)])
    crl_dp, aia = _distribution(endpoints)
    return (
        _base(subject, issuer.subject, key, serial, not_before, not_after, issuer)
        .add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(crl_dp, critical=False)
        .add_extension(aia, critical=False)
    )
