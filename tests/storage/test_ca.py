"""The certificate authority: ceremony, issuance (lint, intended, issued), rollover."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ca.authority import CertificateAuthority
from ca.enrolment import Holder, issue_pair
from ca.errors import IssuanceRefused, NotEligible
from ca.keystore import FileKeyStore
from ca.tables import IntendedCertificate, IssuedCertificate
from pki import basic_four, profile
from pki.clock import FrozenClock
from pki.eras import PartialDate
from pki.profile import CertificateProfile, CertKind
from tests.debian import tool

BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def card_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    """Stand-ins for a card's two keys (the card itself is tested elsewhere)."""
    return (rsa.generate_private_key(public_exponent=65537, key_size=2048),
            rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture
def authority(sessions: sessionmaker[Session], clock: FrozenClock,
              tmp_path: Path) -> CertificateAuthority:
    keys = FileKeyStore(tmp_path / "ca-keys", b"test passphrase, not a secret")
    ca = CertificateAuthority(sessions, clock, keys, BASE)
    ca.init()
    return ca


def holder(**changes: object) -> Holder:
    values: dict[str, object] = dict(
        resident_code="24727059608", name="山田　花子", sex=2,
        birth_date=PartialDate.parse("平成2年5月3日"), address="埼玉県所沢市並木三丁目1番1号",
        municipality_code="112089", prefecture="埼玉県", municipality="所沢市", active=True)
    values.update(changes)
    return Holder(**values)  # type: ignore[arg-type]


def _pem(cert: x509.Certificate, path: Path) -> str:
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return str(path)


def test_the_ceremony_creates_one_generation_per_ca_once(authority: CertificateAuthority
                                                         ) -> None:
    assert authority.init() == []
    for kind in (CertKind.SIGNING, CertKind.AUTHENTICATION):
        (generation,) = authority.generations(kind)
        root = generation.certificate
        assert generation.name == f"{kind.value}-1"
        assert root.subject == root.issuer == profile.ca_name(kind)
        root.verify_directly_issued_by(root)
    assert (authority.current(CertKind.SIGNING).key_id
            != authority.current(CertKind.AUTHENTICATION).key_id)


def test_an_adult_gets_both_certificates_with_the_basic_four(
        authority: CertificateAuthority, sessions: sessionmaker[Session], clock: FrozenClock,
        card_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> None:
    sign_key, auth_key = card_keys
    pair = issue_pair(authority, holder(), card_id="card-1", signing_key=sign_key.public_key(),
                      auth_key=auth_key.public_key(), issued_at=clock.now())
    assert pair.signing is not None
    signing = pair.signing.certificate
    signing.verify_directly_issued_by(authority.current(CertKind.SIGNING).certificate)
    four = basic_four.decode(signing)
    assert (four.name, four.sex, four.birth_date.code, four.address) == (
        "山田　花子", 2, "419900503", "埼玉県所沢市並木三丁目１番１号")  # JIS X 0208 digits
    assert set(four.name_flags + four.address_flags) == {"0"}, "nothing was substituted"
    localities = [a.value for a in signing.subject
                  if a.oid == x509.oid.NameOID.LOCALITY_NAME]
    assert localities == ["埼玉県", "所沢市"]
    crl = signing.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crl[0].full_name[0].value == f"{BASE}/crl/sign-1/112089.crl"
    assert signing.not_valid_after_utc == datetime(2029, 4, 1, 14, 59, 59, tzinfo=UTC)
    assert signing.public_key().public_numbers() == sign_key.public_key().public_numbers()
    assert signing.serial_number >= 2**63
    auth = pair.authentication.certificate
    assert auth.subject.rfc4514_string().startswith("CN=") and len(auth.subject) == 1
    with pytest.raises(x509.ExtensionNotFound):
        auth.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    with sessions() as session:
        issued = session.scalars(select(IssuedCertificate).order_by(
            IssuedCertificate.issued_id)).all()
        intended = session.scalars(select(IntendedCertificate)).all()
    assert [(i.kind, i.resident_code, i.card_id, i.partition) for i in issued] == [
        ("sign", "24727059608", "card-1", "112089"), ("auth", "24727059608", "card-1", "112089")]
    assert {i.tbs_certificate for i in intended} == {
        signing.tbs_certificate_bytes, auth.tbs_certificate_bytes}
    assert authority.issued(resident_code="24727059608") == [signing, auth]


def test_no_signing_certificate_under_15_and_none_for_a_removed_record(
        authority: CertificateAuthority, clock: FrozenClock,
        card_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> None:
    sign_key, auth_key = card_keys
    child = holder(birth_date=PartialDate.parse("2011-04-02"))  # 15 tomorrow
    pair = issue_pair(authority, child, card_id="card-2", signing_key=sign_key.public_key(),
                      auth_key=auth_key.public_key(), issued_at=clock.now())
    assert pair.signing is None and pair.authentication is not None
    with pytest.raises(NotEligible, match="removed"):
        issue_pair(authority, holder(active=False), card_id="card-3",
                   signing_key=sign_key.public_key(), auth_key=auth_key.public_key(),
                   issued_at=clock.now())


def test_a_certificate_failing_its_lint_is_refused_and_nothing_is_stored(
        authority: CertificateAuthority, sessions: sessionmaker[Session], clock: FrozenClock,
        card_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> None:
    key = card_keys[0].public_key()

    def without_key_usage(issuer: object, serial: int) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(profile.ca_name(CertKind.SIGNING))
                .issuer_name(profile.ca_name(CertKind.SIGNING)).public_key(key)
                .serial_number(serial).not_valid_before(clock.now())
                .not_valid_after(datetime(2027, 1, 1, tzinfo=UTC)))

    with pytest.raises(IssuanceRefused, match="lint"):
        authority.issue(without_key_usage, CertificateProfile.SIGNING, CertKind.SIGNING,
                        cert_kind="sign")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IntendedCertificate)) == 0
        assert session.scalar(select(func.count()).select_from(IssuedCertificate)) == 0


def test_the_serial_is_stored_before_the_real_signature(
        authority: CertificateAuthority, sessions: sessionmaker[Session], clock: FrozenClock,
        card_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_signer(builder: object, key: object) -> x509.Certificate:
        raise RuntimeError("the HSM went away")

    monkeypatch.setattr(profile, "sign", broken_signer)
    with pytest.raises(RuntimeError):
        issue_pair(authority, holder(), card_id="card-4", signing_key=card_keys[0].public_key(),
                   auth_key=card_keys[1].public_key(), issued_at=clock.now())
    with sessions() as session:
        intended = session.scalars(select(IntendedCertificate).order_by(
            IntendedCertificate.kind)).all()
        assert [i.kind for i in intended] == ["auth", "sign"]  # the pair, recorded together
        assert all(int(i.serial) >= 2**63 for i in intended)
        assert session.scalar(select(func.count()).select_from(IssuedCertificate)) == 0


@pytest.fixture(scope="module")
def openssl() -> str:
    """The openssl binary (installed with apt-get when missing)."""
    return tool("openssl")


def test_rollover_links_validate_both_ways(
        authority: CertificateAuthority, clock: FrozenClock, tmp_path: Path, openssl: str,
        card_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> None:
    sign_key, auth_key = card_keys
    old_pair = issue_pair(authority, holder(), card_id="old", signing_key=sign_key.public_key(),
                          auth_key=auth_key.public_key(), issued_at=clock.now())
    old_root = authority.current(CertKind.SIGNING).certificate
    clock.advance(timedelta(days=30))
    new, (new_with_old, old_with_new) = authority.rollover(CertKind.SIGNING)
    assert new.generation == 2 and new.certificate.subject == old_root.subject
    assert authority.current(CertKind.AUTHENTICATION).generation == 1, "the CAs are independent"
    new_pair = issue_pair(authority, holder(), card_id="new", signing_key=sign_key.public_key(),
                          auth_key=auth_key.public_key(), issued_at=clock.now())
    assert new_pair.signing is not None and old_pair.signing is not None
    assert new_pair.signing.issuer.generation == 2
    at = str(int(clock.now().timestamp()) + 60)
    for root, link, leaf in ((old_root, new_with_old, new_pair.signing.certificate),
                             (new.certificate, old_with_new, old_pair.signing.certificate)):
        command = [openssl, "verify", "-x509_strict", "-attime", at,
                   "-CAfile", _pem(root, tmp_path / "root.pem"),
                   "-untrusted", _pem(link, tmp_path / "link.pem"),
                   _pem(leaf, tmp_path / "leaf.pem")]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        without_link = [c for c in command if c not in ("-untrusted", str(tmp_path / "link.pem"))]
        assert subprocess.run(without_link, capture_output=True).returncode != 0
    assert authority.links(CertKind.SIGNING) == [new_with_old, old_with_new]


def test_certificates_verify_with_the_card_key_signature(
        authority: CertificateAuthority, clock: FrozenClock,
        card_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]) -> None:
    """A signature by the card's key verifies with the issued certificate's key."""
    sign_key, auth_key = card_keys
    pair = issue_pair(authority, holder(), card_id="c", signing_key=sign_key.public_key(),
                      auth_key=auth_key.public_key(), issued_at=clock.now())
    assert pair.signing is not None
    signature = sign_key.sign(b"form", padding.PKCS1v15(), hashes.SHA256())
    public = pair.signing.certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"form", padding.PKCS1v15(), hashes.SHA256())
