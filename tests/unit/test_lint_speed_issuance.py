"""The faster store path of ``CertificateAuthority``: still current, still intended-first.

Issuance remembers the generation it last issued from and checks, in the transaction that
records the intended certificates, that it is still the newest one: a rollover by another
process (another ``CertificateAuthority`` on the same database) is never missed. A card's two
certificates are issued together: both intended rows are committed before either real
signature, and both issued rows in one transaction after them, or none.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ca.authority import CertificateAuthority, Generation, Issued, Request
from ca.enrolment import CertificatePair, Holder, issue_pair
from ca.errors import IssuanceRefused
from ca.keystore import FileKeyStore
from ca.tables import IntendedCertificate, IssuedCertificate
from pki import profile
from pki.clock import FrozenClock
from pki.eras import PartialDate
from pki.profile import CertificateProfile, CertKind
from tests.conftest import START

BASE = "http://127.0.0.1:8000"
HOLDER = Holder(resident_code="24727059608", name="山田　花子", sex=2,
                birth_date=PartialDate.parse("1990-05-03"), address="埼玉県所沢市並木三丁目1番1号",
                municipality_code="112089", prefecture="埼玉県", municipality="所沢市",
                active=True)


@pytest.fixture(scope="module")
def card_key() -> rsa.RSAPublicKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()


@pytest.fixture
def keys(tmp_path: Path) -> FileKeyStore:
    return FileKeyStore(tmp_path / "ca-keys", b"test passphrase, not a secret")


@pytest.fixture
def authority(sessions: sessionmaker[Session], clock: FrozenClock,
              keys: FileKeyStore) -> CertificateAuthority:
    ca = CertificateAuthority(sessions, clock, keys, BASE)
    ca.init()
    return ca


def _issue(ca: CertificateAuthority, key: rsa.RSAPublicKey, card: str) -> CertificatePair:
    return issue_pair(ca, HOLDER, card_id=card, signing_key=key, auth_key=key,
                      issued_at=START)


def _signing(pair: CertificatePair) -> Issued:
    assert pair.signing is not None
    return pair.signing


def test_a_rollover_by_another_process_is_seen_by_the_next_issuance(
        authority: CertificateAuthority, sessions: sessionmaker[Session], clock: FrozenClock,
        keys: FileKeyStore, card_key: rsa.RSAPublicKey) -> None:
    first = _issue(authority, card_key, "card-1")
    assert _signing(first).issuer.generation == 1
    other = CertificateAuthority(sessions, clock, keys, BASE)  # another process, same database
    new, _ = other.rollover(CertKind.SIGNING)
    second = _issue(authority, card_key, "card-2")
    assert _signing(second).issuer == new
    _signing(second).certificate.verify_directly_issued_by(new.certificate)
    assert second.authentication.issuer.generation == 1, "the other CA did not roll over"
    with sessions() as session:
        rows = session.scalars(select(IntendedCertificate).where(
            IntendedCertificate.card_id == "card-2")).all()
    assert {r.issuer_key_id for r in rows} == {
        new.key_id, authority.current(CertKind.AUTHENTICATION).key_id}, (
        "nothing recorded for the generation that was no longer current")


def test_a_rollover_by_this_authority_is_used_at_once(
        authority: CertificateAuthority, card_key: rsa.RSAPublicKey) -> None:
    _issue(authority, card_key, "card-1")
    new, _ = authority.rollover(CertKind.SIGNING)
    assert _signing(_issue(authority, card_key, "card-2")).issuer == new


def test_generations_are_read_every_time_and_parsed_once(
        authority: CertificateAuthority, sessions: sessionmaker[Session], clock: FrozenClock,
        keys: FileKeyStore) -> None:
    current = authority.current(CertKind.SIGNING)
    assert authority.current(CertKind.SIGNING) is current
    assert authority.by_key_id(current.key_id) is current
    assert authority.generations(CertKind.SIGNING) == [current]
    CertificateAuthority(sessions, clock, keys, BASE).rollover(CertKind.SIGNING)
    newest = authority.current(CertKind.SIGNING)
    assert newest.generation == 2
    assert [g.generation for g in authority.generations(CertKind.SIGNING)] == [1, 2]
    assert isinstance(newest.certificate, x509.Certificate)


def test_the_intended_certificate_is_committed_before_the_real_signature(
        authority: CertificateAuthority, sessions: sessionmaker[Session], keys: FileKeyStore,
        card_key: rsa.RSAPublicKey, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int]] = []
    real_sign = profile.sign

    def sign(builder: x509.CertificateBuilder, key: rsa.RSAPrivateKey) -> x509.Certificate:
        with sessions() as session:  # another connection: sees committed rows only
            seen.append((session.scalar(select(func.count()).select_from(IntendedCertificate))
                         or 0,
                         session.scalar(select(func.count()).select_from(IssuedCertificate))
                         or 0))
        return real_sign(builder, key)

    monkeypatch.setattr(profile, "sign", sign)
    pair = _issue(authority, card_key, "card-1")
    assert seen == [(2, 0), (2, 0)], "both intended before either signature, none issued yet"
    with sessions() as session:
        issued = session.scalars(select(IssuedCertificate).order_by(
            IssuedCertificate.issued_id)).all()
        intended = session.scalars(select(IntendedCertificate).order_by(
            IntendedCertificate.intended_id)).all()
    assert [r.serial for r in issued] == [str(_signing(pair).serial),
                                          str(pair.authentication.serial)]
    assert [r.tbs_certificate for r in intended] == [
        _signing(pair).certificate.tbs_certificate_bytes,
        pair.authentication.certificate.tbs_certificate_bytes]
    assert issued[0].certificate == _signing(pair).certificate.public_bytes(Encoding.DER)
    assert issued[0].not_after == _signing(pair).certificate.not_valid_after_utc


def test_a_lint_failure_records_nothing(authority: CertificateAuthority,
                                        sessions: sessionmaker[Session],
                                        card_key: rsa.RSAPublicKey) -> None:
    def build(issuer: Generation, serial: int) -> x509.CertificateBuilder:
        return profile.authentication_certificate(
            issuer.certificate, card_key, serial=serial, not_before=authority._now(),
            not_after=issuer.certificate.not_valid_after_utc, subject_id="A-1",
            endpoints=authority.endpoints(issuer, "112089"))

    with pytest.raises(IssuanceRefused):
        authority.issue(build, CertificateProfile.SIGNING, CertKind.AUTHENTICATION,
                        cert_kind="auth")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IntendedCertificate)) == 0


def test_a_pair_failing_at_its_second_signature_stores_neither_certificate(
        authority: CertificateAuthority, sessions: sessionmaker[Session],
        card_key: rsa.RSAPublicKey, monkeypatch: pytest.MonkeyPatch) -> None:
    real_sign = profile.sign
    signed: list[int] = []

    def sign(builder: x509.CertificateBuilder, key: rsa.RSAPrivateKey) -> x509.Certificate:
        if signed:
            raise RuntimeError("the HSM went away")
        signed.append(1)
        return real_sign(builder, key)

    monkeypatch.setattr(profile, "sign", sign)
    with pytest.raises(RuntimeError, match="HSM"):
        _issue(authority, card_key, "card-1")
    with sessions() as session:
        kinds = sorted(session.scalars(select(IntendedCertificate.kind)).all())
        assert kinds == ["auth", "sign"], "both serials recorded before any signature"
        assert session.scalar(select(func.count()).select_from(IssuedCertificate)) == 0


def test_a_pair_whose_second_certificate_fails_its_lint_records_nothing(
        authority: CertificateAuthority, sessions: sessionmaker[Session],
        card_key: rsa.RSAPublicKey) -> None:
    good = Request(lambda issuer, serial: profile.authentication_certificate(
        issuer.certificate, card_key, serial=serial, not_before=authority._now(),
        not_after=issuer.certificate.not_valid_after_utc, subject_id="A-1",
        endpoints=authority.endpoints(issuer, "112089")),
        CertificateProfile.AUTHENTICATION, CertKind.AUTHENTICATION, "auth")
    linted_as_signing = Request(good.build, CertificateProfile.SIGNING,
                                CertKind.AUTHENTICATION, "sign")
    with pytest.raises(IssuanceRefused, match="lint"):
        authority.issue_together([good, linted_as_signing])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IntendedCertificate)) == 0
        assert session.scalar(select(func.count()).select_from(IssuedCertificate)) == 0
    (issued,) = authority.issue_together([good])
    assert issued.issuer == authority.current(CertKind.AUTHENTICATION)


def test_a_pair_is_rebuilt_for_a_rollover_of_either_kind(
        authority: CertificateAuthority, sessions: sessionmaker[Session], clock: FrozenClock,
        keys: FileKeyStore, card_key: rsa.RSAPublicKey) -> None:
    _issue(authority, card_key, "card-1")
    other = CertificateAuthority(sessions, clock, keys, BASE)
    new_auth, _ = other.rollover(CertKind.AUTHENTICATION)
    pair = _issue(authority, card_key, "card-2")
    assert pair.authentication.issuer == new_auth
    assert _signing(pair).issuer.generation == 1
    pair.authentication.certificate.verify_directly_issued_by(new_auth.certificate)
    with sessions() as session:
        issuers = set(session.scalars(select(IntendedCertificate.issuer_key_id).where(
            IntendedCertificate.card_id == "card-2")).all())
    assert issuers == {new_auth.key_id, _signing(pair).issuer.key_id}
