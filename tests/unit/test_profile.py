"""The JPKI-style certificate profile, field by field, read by cryptography, asn1crypto and openssl.

Every certificate type (root, link, signing, authentication, OCSP responder) must also come out
of pkilint's RFC 5280 validators without a finding at WARNING or above.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from pki import oids
from pki.basic_four import BasicFour, Sex
from pki.basic_four import decode as decode_basic_four
from pki.eras import PartialDate
from pki.lint import (
    Finding,
    Severity,
    blocks_issuance,
    lint_certificate,
    sign_with_throwaway,
)
from pki.profile import (
    CertificateProfile,
    CertKind,
    Endpoints,
    ProfileError,
    authentication_certificate,
    ca_name,
    link_certificate,
    new_with_old,
    ocsp_responder_certificate,
    old_with_new,
    random_serial,
    root_certificate,
    sign,
    signing_certificate,
)
from pki.validity import signing_validity
from tests.debian import tool

T_ROOT = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
T_ROOT_END = datetime(2046, 3, 31, 14, 59, 59, tzinfo=UTC)
T_NEW_ROOT = datetime(2031, 1, 1, 0, 0, tzinfo=UTC)
T_NEW_ROOT_END = datetime(2051, 1, 1, 0, 0, tzinfo=UTC)
T_ISSUE = datetime(2026, 4, 1, 1, 0, 5, tzinfo=UTC)  # 10:00:05 JST
T_CHECK = datetime(2032, 1, 1, tzinfo=UTC)  # when the rollover paths are validated
BIRTH = PartialDate.of(date(1975, 3, 15))
ENDPOINTS = Endpoints(
    crl_url="http://repository.jpki.test/crl/sign/112089.crl",
    ocsp_url="http://repository.jpki.test/ocsp",
    ca_issuers_url="http://repository.jpki.test/ca/sign.cer",
)
BASIC_FOUR = BasicFour.from_register(
    "髙橋", "太郎", Sex.MALE, BIRTH, "埼玉県所沢市並木1-1-1"
)
JPKI_DIR_NAME = "公的個人認証サービス"


@dataclass(frozen=True)
class Keys:
    sign_root: rsa.RSAPrivateKey
    sign_root_new: rsa.RSAPrivateKey
    auth_root: rsa.RSAPrivateKey
    card: rsa.RSAPrivateKey
    responder: rsa.RSAPrivateKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    def new() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return Keys(new(), new(), new(), new(), new())


@pytest.fixture(scope="module")
def certs(keys: Keys) -> dict[str, x509.Certificate]:
    """One of every certificate type, signed with real keys."""
    out: dict[str, x509.Certificate] = {}
    out["root"] = sign(root_certificate(
        CertKind.SIGNING, keys.sign_root.public_key(), serial=random_serial(),
        not_before=T_ROOT, not_after=T_ROOT_END), keys.sign_root)
    out["root_new"] = sign(root_certificate(
        CertKind.SIGNING, keys.sign_root_new.public_key(), serial=random_serial(),
        not_before=T_NEW_ROOT, not_after=T_NEW_ROOT_END), keys.sign_root_new)
    out["auth_root"] = sign(root_certificate(
        CertKind.AUTHENTICATION, keys.auth_root.public_key(), serial=random_serial(),
        not_before=T_ROOT, not_after=T_ROOT_END), keys.auth_root)
    out["new_with_old"] = sign(new_with_old(
        out["root"], keys.sign_root_new.public_key(), serial=random_serial(),
        not_before=T_NEW_ROOT, not_after=T_ROOT_END), keys.sign_root)
    out["old_with_new"] = sign(old_with_new(
        out["root_new"], keys.sign_root.public_key(), serial=random_serial(),
        not_before=T_NEW_ROOT, not_after=T_ROOT_END), keys.sign_root_new)
    validity = signing_validity(T_ISSUE, BIRTH)
    out["signing"] = sign(signing_certificate(
        out["root"], keys.card.public_key(), serial=random_serial(),
        not_before=validity.not_before, not_after=validity.not_after, prefecture="埼玉県",
        municipality="所沢市", issuance_id="S2026-0001-7f3a", basic_four=BASIC_FOUR,
        endpoints=ENDPOINTS), keys.sign_root)
    out["authentication"] = sign(authentication_certificate(
        out["auth_root"], keys.card.public_key(), serial=random_serial(),
        not_before=validity.not_before, not_after=validity.not_after,
        subject_id="A2026-0001-9c1d", endpoints=ENDPOINTS), keys.auth_root)
    out["ocsp"] = sign(ocsp_responder_certificate(
        out["root"], keys.responder.public_key(), serial=random_serial(),
        not_before=T_ISSUE, not_after=datetime(2026, 7, 1, tzinfo=UTC)), keys.sign_root)
    # for the rollover paths: a leaf of each generation, valid at T_CHECK
    late = signing_validity(datetime(2031, 6, 1, tzinfo=UTC), BIRTH)
    for name, issuer, key in (("leaf_old_gen", out["root"], keys.sign_root),
                              ("leaf_new_gen", out["root_new"], keys.sign_root_new)):
        out[name] = sign(signing_certificate(
            issuer, keys.card.public_key(), serial=random_serial(),
            not_before=late.not_before, not_after=late.not_after, prefecture="埼玉県",
            municipality="所沢市", issuance_id=f"{name}-1", basic_four=BASIC_FOUR,
            endpoints=ENDPOINTS), key)
    return out


PROFILES = {
    "root": CertificateProfile.ROOT,
    "root_new": CertificateProfile.ROOT,
    "auth_root": CertificateProfile.ROOT,
    "new_with_old": CertificateProfile.LINK,
    "old_with_new": CertificateProfile.LINK,
    "signing": CertificateProfile.SIGNING,
    "authentication": CertificateProfile.AUTHENTICATION,
    "ocsp": CertificateProfile.OCSP_RESPONDER,
}


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _ext(cert: x509.Certificate, cls: type[Any]) -> x509.Extension[Any]:
    return cert.extensions.get_extension_for_class(cls)


def _has(cert: x509.Certificate, cls: type[Any]) -> bool:
    try:
        cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return False
    return True


def _key_usage_bits(cert: x509.Certificate) -> set[str]:
    ku = _ext(cert, x509.KeyUsage).value
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign")
    return {n for n in names if getattr(ku, n)}


def _ski(key: rsa.RSAPrivateKey) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest


# -- openssl --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def openssl() -> str:
    """The openssl binary (installed with apt-get when missing)."""
    return tool("openssl")


@pytest.fixture(scope="module")
def pem_dir(certs: dict[str, x509.Certificate], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pem")
    for name, cert in certs.items():
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return folder


def _openssl_text(openssl: str, pem: Path) -> str:
    return subprocess.run(
        [openssl, "x509", "-in", str(pem), "-text", "-noout", "-nameopt", "oneline,-esc_msb"],
        check=True, capture_output=True, text=True,
    ).stdout


def _verify(openssl: str, pem_dir: Path, trusted: str, untrusted: list[str], leaf: str,
            *extra: str) -> subprocess.CompletedProcess[str]:
    args = [openssl, "verify", "-x509_strict", "-attime", str(int(T_CHECK.timestamp())),
            "-CAfile", str(pem_dir / f"{trusted}.pem"), *extra]
    for name in untrusted:
        args += ["-untrusted", str(pem_dir / f"{name}.pem")]
    return subprocess.run([*args, str(pem_dir / f"{leaf}.pem")], capture_output=True, text=True)


# -- every certificate ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PROFILES))
def test_common_fields(name: str, certs: dict[str, x509.Certificate]) -> None:
    cert = certs[name]
    assert cert.version is x509.Version.v3
    assert cert.signature_algorithm_oid == oids.SHA256_WITH_RSA
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert 0 < cert.serial_number < 1 << 159
    assert not _ext(cert, x509.SubjectKeyIdentifier).critical
    assert not _ext(cert, x509.AuthorityKeyIdentifier).critical
    assert _ext(cert, x509.KeyUsage).critical
    assert _ext(cert, x509.SubjectKeyIdentifier).value == (
        x509.SubjectKeyIdentifier.from_public_key(cert.public_key()))
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_no_pkilint_finding_at_warning_or_above(
    name: str, certs: dict[str, x509.Certificate]
) -> None:
    findings = lint_certificate(_der(certs[name]), PROFILES[name])
    assert [f for f in findings if f.severity <= Severity.WARNING] == []
    assert not blocks_issuance(findings)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_asn1crypto_reads_the_same_certificate(
    name: str, certs: dict[str, x509.Certificate]
) -> None:
    cert = certs[name]
    parsed = asn1_x509.Certificate.load(_der(cert))
    tbs = parsed["tbs_certificate"]
    assert tbs["version"].native == "v3"
    assert tbs["serial_number"].native == cert.serial_number
    assert len(tbs["serial_number"].contents) <= 20
    assert parsed["signature_algorithm"]["algorithm"].native == "sha256_rsa"
    assert parsed.subject.dump() == cert.subject.public_bytes()
    assert parsed.issuer.dump() == cert.issuer.public_bytes()
    assert parsed.key_identifier == _ext(cert, x509.SubjectKeyIdentifier).value.digest
    assert parsed.authority_key_identifier == (
        _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier)
    assert parsed.key_usage_value is not None
    assert "key_usage" in parsed.critical_extensions
    assert tbs["validity"]["not_before"].native == cert.not_valid_before_utc
    assert tbs["validity"]["not_after"].native == cert.not_valid_after_utc
    # every directory string is PrintableString (C) or UTF8String
    for rdn in (*tbs["subject"].chosen, *tbs["issuer"].chosen):
        for attribute in rdn:
            expected = "printable_string" if attribute["type"].native == "country_name" else (
                "utf8_string")
            assert attribute["value"].name == expected


# -- CA certificates ------------------------------------------------------------------------------

def test_root_dns() -> None:
    assert ca_name(CertKind.SIGNING).rfc4514_string() == (
        "OU=JPKI for digital signature,O=JPKI,C=JP")
    assert ca_name(CertKind.AUTHENTICATION).rfc4514_string() == (
        "OU=JPKI for user authentication,O=JPKI,C=JP")


@pytest.mark.parametrize(("name", "kind", "key"), [
    ("root", CertKind.SIGNING, "sign_root"),
    ("root_new", CertKind.SIGNING, "sign_root_new"),
    ("auth_root", CertKind.AUTHENTICATION, "auth_root"),
])
def test_roots_are_self_signed_cas(
    name: str, kind: CertKind, key: str, certs: dict[str, x509.Certificate], keys: Keys
) -> None:
    cert = certs[name]
    assert cert.subject == cert.issuer == ca_name(kind)
    cert.verify_directly_issued_by(cert)
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length is None
    assert _key_usage_bits(cert) == {"key_cert_sign", "crl_sign"}
    ski = _ski(getattr(keys, key))
    assert _ext(cert, x509.SubjectKeyIdentifier).value.digest == ski
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski
    for cls in (x509.CertificatePolicies, x509.SubjectAlternativeName, x509.ExtendedKeyUsage):
        assert not _has(cert, cls)


def test_generations_share_one_dn_and_differ_by_key(certs: dict[str, x509.Certificate]) -> None:
    old, new = certs["root"], certs["root_new"]
    assert old.subject == new.subject
    assert (_ext(old, x509.SubjectKeyIdentifier).value
            != _ext(new, x509.SubjectKeyIdentifier).value)


@pytest.mark.parametrize(("name", "issuer", "subject_key"), [
    ("new_with_old", "root", "sign_root_new"),
    ("old_with_new", "root_new", "sign_root"),
])
def test_link_certificates(
    name: str, issuer: str, subject_key: str, certs: dict[str, x509.Certificate], keys: Keys
) -> None:
    cert = certs[name]
    assert cert.subject == cert.issuer == ca_name(CertKind.SIGNING)
    assert cert.public_key() == getattr(keys, subject_key).public_key()
    cert.verify_directly_issued_by(certs[issuer])
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == (
        _ext(certs[issuer], x509.SubjectKeyIdentifier).value.digest)
    assert _ext(cert, x509.SubjectKeyIdentifier).value.digest == _ski(getattr(keys, subject_key))
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert _key_usage_bits(cert) == {"key_cert_sign", "crl_sign"}


def test_a_relying_party_trusting_the_old_root_validates_a_new_generation_leaf(
    openssl: str, pem_dir: Path
) -> None:
    assert _verify(openssl, pem_dir, "root", [], "leaf_new_gen").returncode != 0
    result = _verify(openssl, pem_dir, "root", ["new_with_old"], "leaf_new_gen")
    assert result.returncode == 0, result.stderr


def test_a_relying_party_trusting_the_new_root_validates_an_old_generation_leaf(
    openssl: str, pem_dir: Path
) -> None:
    assert _verify(openssl, pem_dir, "root_new", [], "leaf_old_gen").returncode != 0
    result = _verify(openssl, pem_dir, "root_new", ["old_with_new"], "leaf_old_gen")
    assert result.returncode == 0, result.stderr


# -- end-entity certificates -----------------------------------------------------------------------

def _common_leaf_checks(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    cert.verify_directly_issued_by(issuer)
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == (
        _ext(issuer, x509.SubjectKeyIdentifier).value.digest)
    ian = _ext(cert, x509.IssuerAlternativeName)
    assert not ian.critical
    assert list(ian.value) == [x509.DirectoryName(x509.Name(
        [x509.NameAttribute(oids.ORGANIZATION, JPKI_DIR_NAME)]))]
    crl_dp = _ext(cert, x509.CRLDistributionPoints)
    assert not crl_dp.critical
    [point] = crl_dp.value
    assert point.full_name == [x509.UniformResourceIdentifier(ENDPOINTS.crl_url)]
    assert point.reasons is None and point.crl_issuer is None
    aia = _ext(cert, x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (oids.OCSP, ENDPOINTS.ocsp_url), (oids.CA_ISSUERS, ENDPOINTS.ca_issuers_url)]
    assert not _has(cert, x509.BasicConstraints)
    assert cert.not_valid_before_utc == T_ISSUE
    assert cert.not_valid_after_utc == datetime(2029, 4, 1, 14, 59, 59, tzinfo=UTC)


def test_signing_certificate(certs: dict[str, x509.Certificate], keys: Keys) -> None:
    cert = certs["signing"]
    _common_leaf_checks(cert, certs["root"])
    assert [(a.oid, a.value) for a in cert.subject] == [
        (oids.COUNTRY, "JP"), (oids.LOCALITY, "埼玉県"), (oids.LOCALITY, "所沢市"),
        (oids.COMMON_NAME, "S2026-0001-7f3a")]
    assert cert.issuer == ca_name(CertKind.SIGNING)
    assert _key_usage_bits(cert) == {"digital_signature", "content_commitment"}
    policies = _ext(cert, x509.CertificatePolicies)
    assert [p.policy_identifier.dotted_string for p in policies.value] == [
        "1.2.392.200149.8.5.1.1.20"]
    san = _ext(cert, x509.SubjectAlternativeName)
    assert not san.critical
    assert [g.type_id.dotted_string for g in san.value] == [
        f"1.2.392.200149.8.5.5.{i}" for i in range(1, 7)]
    assert decode_basic_four(cert) == BASIC_FOUR
    assert not _has(cert, x509.ExtendedKeyUsage)
    assert cert.public_key() == keys.card.public_key()


def test_authentication_certificate(certs: dict[str, x509.Certificate]) -> None:
    cert = certs["authentication"]
    _common_leaf_checks(cert, certs["auth_root"])
    assert cert.subject.rfc4514_string() == "CN=A2026-0001-9c1d"
    assert cert.issuer == ca_name(CertKind.AUTHENTICATION)
    assert _key_usage_bits(cert) == {"digital_signature"}
    policies = _ext(cert, x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in policies] == ["1.2.392.200149.8.5.1.3.30"]
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [oids.EKU_CLIENT_AUTH]
    assert not _has(cert, x509.SubjectAlternativeName)


def test_ocsp_responder_certificate(certs: dict[str, x509.Certificate], keys: Keys) -> None:
    cert = certs["ocsp"]
    cert.verify_directly_issued_by(certs["root"])
    assert cert.subject.rfc4514_string() == (
        "CN=OCSP Responder,OU=JPKI for digital signature,O=JPKI,C=JP")
    assert _key_usage_bits(cert) == {"digital_signature"}
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [oids.EKU_OCSP_SIGNING]
    nocheck = _ext(cert, x509.OCSPNoCheck)
    assert nocheck.oid.dotted_string == "1.3.6.1.5.5.7.48.1.5" and not nocheck.critical
    assert _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == _ski(keys.sign_root)
    assert not _has(cert, x509.CRLDistributionPoints)


def test_asn1crypto_reads_the_leaf_extensions(certs: dict[str, x509.Certificate]) -> None:
    parsed = asn1_x509.Certificate.load(_der(certs["signing"]))
    assert parsed.key_usage_value.native == {"digital_signature", "non_repudiation"}
    assert [p["policy_identifier"].dotted for p in parsed.certificate_policies_value] == [
        "1.2.392.200149.8.5.1.1.20"]
    assert parsed.issuer_alt_name_value.native == [{"organization_name": JPKI_DIR_NAME}]
    assert parsed.crl_distribution_points_value.native[0]["distribution_point"] == [
        ENDPOINTS.crl_url]
    assert [(d["access_method"], d["access_location"])
            for d in parsed.authority_information_access_value.native] == [
        ("ocsp", ENDPOINTS.ocsp_url), ("ca_issuers", ENDPOINTS.ca_issuers_url)]
    other_names = {g.chosen["type_id"].dotted: g.chosen["value"].parsed
                   for g in parsed.subject_alt_name_value}
    assert {k: type(v).__name__ for k, v in other_names.items()} == {
        oid.dotted_string: "UTF8String" for oid in oids.BASIC_FOUR_OIDS}
    assert other_names[oids.NAME.dotted_string].native == "高橋\u3000太郎"
    assert other_names[oids.BIRTH_DATE.dotted_string].native == "319750315"
    auth = asn1_x509.Certificate.load(_der(certs["authentication"]))
    assert auth.extended_key_usage_value.native == ["client_auth"]
    ocsp = asn1_x509.Certificate.load(_der(certs["ocsp"]))
    assert ocsp.extended_key_usage_value.native == ["ocsp_signing"]
    assert ocsp.ocsp_no_check_value is not None


# -- openssl's reading ----------------------------------------------------------------------------

def test_openssl_reads_the_root(openssl: str, pem_dir: Path) -> None:
    text = _openssl_text(openssl, pem_dir / "root.pem")
    assert "Signature Algorithm: sha256WithRSAEncryption" in text
    assert "Issuer: C = JP, O = JPKI, OU = JPKI for digital signature" in text
    assert "Subject: C = JP, O = JPKI, OU = JPKI for digital signature" in text
    assert "Public-Key: (2048 bit)" in text
    assert "X509v3 Basic Constraints: critical\n                CA:TRUE\n" in text
    assert "X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n" in text
    assert "X509v3 Subject Key Identifier" in text


def test_openssl_reads_the_signing_certificate(openssl: str, pem_dir: Path) -> None:
    text = _openssl_text(openssl, pem_dir / "signing.pem")
    assert "Subject: C = JP, L = 埼玉県, L = 所沢市, CN = S2026-0001-7f3a" in text
    assert "Not After : Apr  1 14:59:59 2029 GMT" in text
    assert "X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation" in text
    assert "Policy: 1.2.392.200149.8.5.1.1.20" in text
    escaped = "".join(f"\\x{b:02X}" for b in JPKI_DIR_NAME.encode())
    assert f"DirName:/O={escaped}" in text
    assert f"URI:{ENDPOINTS.crl_url}" in text
    assert f"OCSP - URI:{ENDPOINTS.ocsp_url}" in text
    assert f"CA Issuers - URI:{ENDPOINTS.ca_issuers_url}" in text
    for oid, value in BASIC_FOUR.values().items():
        assert f"othername: {oid.dotted_string}::{value}" in text


def test_openssl_reads_the_authentication_and_responder_certificates(
    openssl: str, pem_dir: Path
) -> None:
    auth = _openssl_text(openssl, pem_dir / "authentication.pem")
    assert "Subject: CN = A2026-0001-9c1d" in auth
    assert "X509v3 Key Usage: critical\n                Digital Signature\n" in auth
    assert "TLS Web Client Authentication" in auth
    assert "Policy: 1.2.392.200149.8.5.1.3.30" in auth
    assert "Subject Alternative Name" not in auth
    ocsp = _openssl_text(openssl, pem_dir / "ocsp.pem")
    assert "OCSP Signing" in ocsp
    assert "OCSP No Check" in ocsp


def test_openssl_verifies_leaves_with_their_purpose(openssl: str, pem_dir: Path) -> None:
    at = ["-attime", str(int(datetime(2026, 5, 1, tzinfo=UTC).timestamp()))]
    for trusted, leaf, purpose in (("root", "signing", "any"),
                                   ("auth_root", "authentication", "sslclient"),
                                   ("root", "ocsp", "ocsphelper")):
        result = subprocess.run(
            [openssl, "verify", "-x509_strict", *at, "-purpose", purpose,
             "-CAfile", str(pem_dir / f"{trusted}.pem"), str(pem_dir / f"{leaf}.pem")],
            capture_output=True, text=True)
        assert result.returncode == 0, (leaf, result.stdout, result.stderr)


# -- signing, serials, refusals --------------------------------------------------------------------

class ForwardingKey(rsa.RSAPrivateKey):
    """A key that forwards ``sign()`` elsewhere, as the CA's HSM-backed key does."""

    def __init__(self, inner: rsa.RSAPrivateKey) -> None:
        self._inner = inner
        self.calls = 0

    def sign(self, data: bytes, padding: padding.AsymmetricPadding, algorithm: Any) -> bytes:
        self.calls += 1
        return self._inner.sign(data, padding, algorithm)

    def decrypt(self, ciphertext: bytes, padding: padding.AsymmetricPadding) -> bytes:
        raise NotImplementedError

    @property
    def key_size(self) -> int:
        return self._inner.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._inner.public_key()

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        raise NotImplementedError

    def private_bytes(self, encoding: serialization.Encoding,
                      format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        raise NotImplementedError

    def __copy__(self) -> ForwardingKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> ForwardingKey:
        return self


def test_a_key_subclass_that_forwards_sign_issues_certificates(
    certs: dict[str, x509.Certificate], keys: Keys
) -> None:
    forwarding = ForwardingKey(keys.sign_root)
    builder = ocsp_responder_certificate(
        certs["root"], keys.responder.public_key(), serial=random_serial(),
        not_before=T_ISSUE, not_after=datetime(2026, 5, 1, tzinfo=UTC))
    cert = sign(builder, forwarding)
    assert forwarding.calls == 1
    cert.verify_directly_issued_by(certs["root"])


def test_random_serials_are_positive_and_20_octets() -> None:
    serials = {random_serial() for _ in range(1000)}
    assert len(serials) == 1000
    for serial in serials:
        assert serial.bit_length() == 159
        assert len(serial.to_bytes(20, "big", signed=True)) == 20  # no 21st sign octet needed


def test_lint_of_the_throwaway_signature_equals_lint_of_the_real_one(
    certs: dict[str, x509.Certificate], keys: Keys
) -> None:
    builder = authentication_certificate(
        certs["auth_root"], keys.card.public_key(), serial=123456789 << 64,
        not_before=T_ISSUE, not_after=datetime(2029, 4, 1, 14, 59, 59, tzinfo=UTC),
        subject_id="A-1", endpoints=ENDPOINTS)
    throwaway = sign_with_throwaway(builder)
    real = _der(sign(builder, keys.auth_root))
    assert x509.load_der_x509_certificate(throwaway).tbs_certificate_bytes == (
        x509.load_der_x509_certificate(real).tbs_certificate_bytes)
    kind = CertificateProfile.AUTHENTICATION
    assert lint_certificate(throwaway, kind) == lint_certificate(real, kind)


def _codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def test_lint_refuses_a_ca_without_key_usage(keys: Keys) -> None:
    name = ca_name(CertKind.SIGNING)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(keys.sign_root.public_key()).serial_number(random_serial())
        .not_valid_before(T_ROOT).not_valid_after(T_ROOT_END)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(keys.sign_root.public_key()),
                       critical=False)
    )
    findings = lint_certificate(sign_with_throwaway(builder), CertificateProfile.ROOT)
    assert blocks_issuance(findings)
    assert "pkix.ca_certificate_no_ku_extension" in _codes(findings)
    assert "jpki.key_usage_missing_or_not_critical" in _codes(findings)


def test_lint_catches_a_certificate_linted_as_the_wrong_profile(
    certs: dict[str, x509.Certificate]
) -> None:
    findings = lint_certificate(_der(certs["signing"]), CertificateProfile.AUTHENTICATION)
    assert blocks_issuance(findings)
    assert {"jpki.key_usage_bits", "jpki.certificate_policy", "jpki.wrong_hierarchy",
            "jpki.extended_key_usage",
            "jpki.personal_data_in_authentication_certificate"} <= _codes(findings)
    assert all(f.code.startswith("jpki.") for f in findings if f.blocks_issuance)


def test_lint_reports_undecodable_input_as_fatal() -> None:
    findings = lint_certificate(b"\x30\x03\x02\x01\x01", CertificateProfile.ROOT)
    assert findings and findings[0].severity is Severity.FATAL
    assert blocks_issuance(findings)


@pytest.fixture
def issue_signing(certs: dict[str, x509.Certificate], keys: Keys) -> Iterator[Any]:
    def issue(**overrides: Any) -> x509.CertificateBuilder:
        args: dict[str, Any] = {
            "issuer": certs["root"], "public_key": keys.card.public_key(),
            "serial": random_serial(), "not_before": T_ISSUE,
            "not_after": datetime(2029, 4, 1, 14, 59, 59, tzinfo=UTC), "prefecture": "埼玉県",
            "municipality": "所沢市", "issuance_id": "S-1", "basic_four": BASIC_FOUR,
            "endpoints": ENDPOINTS,
        }
        args.update(overrides)
        issuer, public_key = args.pop("issuer"), args.pop("public_key")
        return signing_certificate(issuer, public_key, **args)

    yield issue


@pytest.mark.parametrize(("overrides", "message"), [
    ({"serial": 0}, "serial"),
    ({"serial": (1 << 63) - 1}, "serial"),
    ({"serial": 1 << 159}, "serial"),
    ({"not_before": datetime(2026, 4, 1, 10, 0)}, "aware"),
    ({"not_after": T_ISSUE}, "before"),
    ({"not_after": datetime(2047, 1, 1, tzinfo=UTC)}, "issuing CA's validity"),
    ({"not_before": datetime(2026, 3, 1, tzinfo=UTC)}, "issuing CA's validity"),
    ({"issuance_id": "山田"}, "opaque id"),
    ({"issuance_id": "x" * 65}, "opaque id"),
    ({"prefecture": ""}, "prefecture"),
])
def test_the_builder_refuses_what_the_profile_forbids(
    issue_signing: Any, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProfileError, match=message):
        issue_signing(**overrides)


def test_a_signing_certificate_needs_the_signing_ca(
    issue_signing: Any, certs: dict[str, x509.Certificate]
) -> None:
    with pytest.raises(ProfileError, match="signing CA"):
        issue_signing(issuer=certs["auth_root"])


def test_a_leaf_key_must_be_rsa_2048(issue_signing: Any) -> None:
    with pytest.raises(ProfileError, match="RSA keys only"):
        issue_signing(public_key=ec.generate_private_key(ec.SECP256R1()).public_key())
    big = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ProfileError, match="RSA-2048"):
        issue_signing(public_key=big.public_key())


def test_links_only_between_jpki_cas(keys: Keys, certs: dict[str, x509.Certificate]) -> None:
    stranger = certs["signing"]
    with pytest.raises(ProfileError, match="not a JPKI CA name"):
        link_certificate(stranger, keys.sign_root_new.public_key(), serial=random_serial(),
                         not_before=T_ISSUE, not_after=datetime(2027, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("url", ["https://x.test/a.crl", "ldap://x.test/cn=a", "http://", "a"])
def test_endpoints_are_plain_http(url: str) -> None:
    with pytest.raises(ProfileError, match="http://"):
        Endpoints(url, ENDPOINTS.ocsp_url, ENDPOINTS.ca_issuers_url)
