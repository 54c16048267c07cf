"""Renewal and re-issue onto an existing card: new keys on the card, new certificates from the
CA, the old ones superseded, the register's card record updated; all or nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ReasonFlags, ocsp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ca.errors import IssuanceRefused, NotEligible
from ca.tables import IntendedCertificate, IssuedCertificate
from jukibridge import cards, workers
from jukibridge.cards import CardRecord
from jukibridge.change_requests import Relocation
from jukibridge.errors import InvalidInput
from jukibridge.register import Register
from jukibridge.tables import AuditEntry
from pki import basic_four, profile
from pki.card import Card, CertificateMismatch, FileNotFound, VirtualCard
from pki.clock import FrozenClock
from pki.validity import JST
from revocation.service import CertStatus
from tests.storage.conftest import AUTH_PIN, SIGNING_PASSWORD, Jpki, enrol_card
from tests.storage.helpers import arrive
from web.config import load_settings
from web.enrolment import MaintenanceRefused, reissue, renew, renewal_opens
from web.secrets import card_seal_key
from web.services import Services

# Enrolled at START (2026-04-01 10:00 JST): both certificates' last valid day is 2029-04-01.
FOUR_MONTHS_BEFORE = datetime(2028, 12, 1, 1, 0, tzinfo=UTC)
TWO_MONTHS_BEFORE = datetime(2029, 2, 1, 1, 0, tzinfo=UTC)
AFTER_EXPIRY = datetime(2029, 4, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def services(card_instance: Path, clock: FrozenClock) -> Iterator[Services]:
    """The services of the ``card_instance`` (both CAs), on the test clock."""
    built = Services.build(load_settings(), clock=clock)
    yield built
    built.close()


def _record(sessions: sessionmaker[Session], code: str) -> CardRecord:
    with sessions() as session:
        (held,) = cards.cards_of(session, code)
    return held


def _issued(sessions: sessionmaker[Session], serial: str | int) -> IssuedCertificate:
    with sessions() as session:
        return session.scalars(select(IssuedCertificate).where(
            IssuedCertificate.serial == str(serial))).one()


def _status(services: Services, serial: str | int) -> tuple[CertStatus, ReasonFlags | None]:
    row = _issued(services.sessions, serial)
    found = services.revocation.service.status(row.issuer_key_id, int(row.serial))
    return found.state, found.revocation.reason if found.revocation else None


def _ocsp(services: Services, serial: str | int) -> ocsp.OCSPResponse:
    row = _issued(services.sessions, serial)
    certificate = x509.load_der_x509_certificate(row.certificate)
    issuer = services.ca.by_key_id(row.issuer_key_id).certificate
    request = (ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())
               .build().public_bytes(Encoding.DER))
    return ocsp.load_der_ocsp_response(services.revocation.ocsp.respond(request))


def _actions(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.entry_id)))


def _signs_with(services: Services, card: Path, kind: str, pin: str) -> x509.Certificate:
    """Sign through the card's APDUs and verify with the certificate read from the card."""
    with Card.open(card, card_seal_key(services.settings)) as held:
        certificate = held.read_certificate("sign" if kind == "sign" else "auth",
                                            pin if kind == "sign" else None)
        message = b"<DATA><CONTENTS id='c'>renewal</CONTENTS></DATA>"
        signature = held.sign("sign" if kind == "sign" else "auth",
                              hashlib.sha256(message).digest(), pin)
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    return certificate


def _renew(jpki: Jpki, card: Path, *args: str, ok: bool = True) -> str:
    return jpki("card", "renew", str(card), *args, "--identity-document", "運転免許証",
                "--operator", "clerk", ok=ok).output


def _reissue(jpki: Jpki, card: Path, kind: str, ok: bool = True) -> str:
    return jpki("card", "reissue", str(card), "--kind", kind, "--identity-document", "旅券",
                "--operator", "clerk", ok=ok).output


# -- the window ----------------------------------------------------------------------------------


def test_renewal_opens_three_calendar_months_before_the_last_valid_day() -> None:
    def opens(year: int, month: int, day: int) -> datetime:
        not_after = datetime(year, month, day, 23, 59, 59, tzinfo=JST).astimezone(UTC)
        return renewal_opens(not_after).astimezone(JST)

    assert opens(2029, 4, 1) == datetime(2029, 1, 1, tzinfo=JST)
    assert opens(2029, 2, 15) == datetime(2028, 11, 15, tzinfo=JST)
    assert opens(2029, 5, 31) == datetime(2029, 2, 28, tzinfo=JST)  # no 31 February
    assert opens(2028, 5, 31) == datetime(2028, 2, 29, tzinfo=JST)


# -- the card ------------------------------------------------------------------------------------


def test_a_new_key_replaces_the_old_one_only_through_the_sealed_image(tmp_path: Path) -> None:
    seal_key = bytes(range(32))
    path = tmp_path / "card.jcard"
    with VirtualCard.create(path, seal_key, auth_pin=AUTH_PIN,
                            signing_password=SIGNING_PASSWORD) as card:
        old = card.public_key("sign")
        auth = card.public_key("auth")
        select_ap = bytes.fromhex("00A4040C0AD392F000260100000001")
        assert card.transmit(select_ap)[-2:] == b"\x90\x00"
        assert card.transmit(bytes.fromhex("00A4020C02001A"))[-2:] == b"\x90\x00"
        # no APDU generates a key: P1 80 of GENERATE ASYMMETRIC KEY PAIR is refused
        assert card.transmit(bytes.fromhex("0047800000"))[-2:] == b"\x6a\x86"
        assert card.transmit(bytes.fromhex("0020009B06") + b"WRONG1")[-2:] == b"\x63\xc4"
        generation = card.generation
        new = card.regenerate_key("sign")
        assert new != old and card.public_key("sign") == new and card.public_key("auth") == auth
        assert card.generation > generation
    with VirtualCard.open(path, seal_key) as card:  # persisted; the wrong try persisted too
        assert card.public_key("sign") == new
        holder = Card(card)
        assert holder.tries_left("sign") == 4 and holder.tries_left("auth") == 3
        with pytest.raises(FileNotFound):
            holder.read_certificate("sign", SIGNING_PASSWORD)
        digest = hashlib.sha256(b"x").digest()
        signature = holder.sign("sign", digest, SIGNING_PASSWORD)  # the PIN stays
        new.verify(signature, b"x", padding.PKCS1v15(), hashes.SHA256())
        with pytest.raises(CertificateMismatch):
            card.install_certificate("sign", b"not a certificate", b"nor this")


# -- renewal -------------------------------------------------------------------------------------


def test_renewal_is_refused_four_months_before_expiry_and_done_two_months_before(
        jpki: Jpki, card_instance: Path, register: Register, services: Services,
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    before = _record(sessions, code)
    old_signing = _signs_with(services, card, "sign", SIGNING_PASSWORD)
    clock.set(FOUR_MONTHS_BEFORE)
    image = card.read_bytes()
    refused = _renew(jpki, card, ok=False)
    assert refused.count("\n") == 1 and "may be renewed from 2028-12-31T15:00:00" in refused
    assert card.read_bytes() == image and _record(sessions, code) == before
    clock.set(TWO_MONTHS_BEFORE)
    done = _renew(jpki, card)
    assert "signing certificate renewed" in done and "authentication certificate renewed" in done
    assert done.count("superseded") == 2
    after = _record(sessions, code)
    assert after.card_id == before.card_id and after.issued_at == before.issued_at
    assert after.signing_serial != before.signing_serial
    assert after.auth_serial != before.auth_serial
    # the new certificates are on the card, hold its new keys and carry the basic four of now
    signing = _signs_with(services, card, "sign", SIGNING_PASSWORD)
    authentication = _signs_with(services, card, "auth", AUTH_PIN)
    assert str(signing.serial_number) == after.signing_serial
    assert str(authentication.serial_number) == after.auth_serial
    assert signing.public_key() != old_signing.public_key()
    assert signing.not_valid_before_utc == TWO_MONTHS_BEFORE
    record = register.record(code, operator="clerk")
    assert basic_four.decode(signing).name == record.name
    # the old ones are superseded, in the revocation service and on OCSP
    for serial in (before.signing_serial, before.auth_serial):
        assert serial is not None
        assert _status(services, serial) == (CertStatus.REVOKED, ReasonFlags.superseded)
        answer = _ocsp(services, serial)
        assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason is ReasonFlags.superseded
    for serial in (after.signing_serial, after.auth_serial):
        assert serial is not None and _status(services, serial) == (CertStatus.GOOD, None)
        assert _ocsp(services, serial).certificate_status is ocsp.OCSPCertStatus.GOOD
    assert _actions(sessions).count("card.renew") == 1
    # a second renewal right away is refused: the new certificates are far from expiry
    again = _renew(jpki, card, "--kind", "sign", ok=False)
    assert "may be renewed from 2031-10-31T15:00:00" in again


def test_renewal_of_one_kind_leaves_the_other_alone(
        card_instance: Path, register: Register, services: Services, jpki: Jpki,
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    before = _record(sessions, code)
    clock.set(TWO_MONTHS_BEFORE)
    done = renew(services, operator="chief", card_path=card, kind="auth",
                 identity_document="個人番号カード")
    assert set(done.issued) == {"auth"} and len(done.superseded) == 1
    after = _record(sessions, code)
    assert before.signing_serial is not None and after.signing_serial == before.signing_serial
    assert after.auth_serial == str(done.issued["auth"].serial) != before.auth_serial
    assert _status(services, before.signing_serial or "")[0] is CertStatus.GOOD
    _signs_with(services, card, "sign", SIGNING_PASSWORD)  # the old signing key is still there
    assert _signs_with(services, card, "auth", AUTH_PIN).serial_number == done.issued[
        "auth"].serial


def test_a_failure_midway_changes_neither_the_card_nor_the_record(
        card_instance: Path, register: Register, services: Services, jpki: Jpki,
        sessions: sessionmaker[Session], clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    before = _record(sessions, code)
    clock.set(TWO_MONTHS_BEFORE)
    image = card.read_bytes()
    real_sign = profile.sign
    signed: list[int] = []

    def refuse_the_second(builder: x509.CertificateBuilder, key: Any) -> x509.Certificate:
        signed.append(1)
        if len(signed) == 2:
            raise IssuanceRefused("the CA refuses (test)")
        return real_sign(builder, key)

    monkeypatch.setattr(profile, "sign", refuse_the_second)
    with pytest.raises(IssuanceRefused):
        renew(services, operator="clerk", card_path=card, identity_document="旅券")
    assert len(signed) == 2, "the signing certificate was signed, the second signature failed"
    assert card.read_bytes() == image and _record(sessions, code) == before
    assert sorted(p.name for p in card_instance.glob(".card.jcard*")) == []
    for serial in (before.signing_serial, before.auth_serial):
        assert _status(services, serial or "")[0] is CertStatus.GOOD
    assert "card.renew" not in _actions(sessions)
    _signs_with(services, card, "sign", SIGNING_PASSWORD)
    with sessions() as session:  # the two certificates are issued together, or neither
        issued = set(session.scalars(select(IssuedCertificate.serial).where(
            IssuedCertificate.kind.in_(("sign", "auth")))).all())
        intended = session.scalars(select(IntendedCertificate.kind).where(
            IntendedCertificate.kind.in_(("sign", "auth")),
            IntendedCertificate.serial.not_in(issued))).all()
    assert issued == {before.signing_serial, before.auth_serial}
    assert sorted(intended) == ["auth", "sign"], "both serials were spent, none reused"
    monkeypatch.setattr(profile, "sign", real_sign)
    done = renew(services, operator="clerk", card_path=card, identity_document="旅券")
    assert {o.revocation.serial for o in done.superseded} == {
        int(before.signing_serial or ""), int(before.auth_serial or "")}


# -- re-issue ------------------------------------------------------------------------------------


def test_reissue_after_a_relocation_carries_the_new_address(
        card_instance: Path, register: Register, services: Services, jpki: Jpki,
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    before = _record(sessions, code)
    refused = _reissue(jpki, card, "sign", ok=False)
    assert refused.count("\n") == 1 and "still good" in refused
    clock.advance(timedelta(days=10))
    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    workers.drain(sessions, clock)
    assert services.revocation.consumer.drain() == 1
    assert _status(services, before.signing_serial or "") == (
        CertStatus.REVOKED, ReasonFlags.affiliation_changed)
    clock.advance(timedelta(days=1))
    no_renewal = _renew(jpki, card, "--kind", "sign", ok=False)
    assert "revoked: re-issue it instead" in no_renewal
    still_good = _reissue(jpki, card, "auth", ok=False)
    assert "authentication certificate is still good" in still_good
    done = _reissue(jpki, card, "sign")
    assert "signing certificate re-issued" in done
    after = _record(sessions, code)
    assert after.auth_serial == before.auth_serial and after.signing_serial != before.signing_serial
    signing = _signs_with(services, card, "sign", SIGNING_PASSWORD)
    assert str(signing.serial_number) == after.signing_serial
    four = basic_four.decode(signing)
    assert four.address == "埼玉県所沢市東町５番８号"  # full-width digits: JIS X 0208
    assert _status(services, after.signing_serial or "") == (CertStatus.GOOD, None)
    # the old one keeps its reason: a revocation is never changed
    assert _status(services, before.signing_serial or "") == (
        CertStatus.REVOKED, ReasonFlags.affiliation_changed)
    assert _actions(sessions).count("card.reissue") == 1
    assert services.revocation.consumer.drain() == 0  # the notice is not applied twice


def test_reissue_after_expiry_and_not_onto_a_lost_card(
        card_instance: Path, register: Register, services: Services, jpki: Jpki,
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    clock.set(AFTER_EXPIRY)
    expired = _renew(jpki, card, "--kind", "auth", ok=False)
    assert "authentication certificate is expired: re-issue it instead" in expired
    done = reissue(services, operator="clerk", card_path=card, kind="auth",
                   identity_document="旅券")
    assert done.issued["auth"].certificate.not_valid_before_utc == AFTER_EXPIRY
    assert _signs_with(services, card, "auth", AUTH_PIN).serial_number == done.issued[
        "auth"].serial
    jpki("card", "report-lost", _record(sessions, code).card_id, "--operator", "clerk")
    image = card.read_bytes()
    lost = _reissue(jpki, card, "sign", ok=False)
    assert "the card is lost" in lost and card.read_bytes() == image


def test_a_holder_under_15_gets_a_signing_certificate_only_from_15(
        card_instance: Path, register: Register, services: Services, jpki: Jpki,
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    code = arrive(register, "山田　太郎", "ヤマダ　タロウ", birth="2011-06-01")  # 15 on 1 June
    card, out = enrol_card(jpki, card_instance, code)
    assert "none (under 15)" in out and _record(sessions, code).signing_serial is None
    with pytest.raises(MaintenanceRefused) as no_renewal:
        renew(services, operator="clerk", card_path=card, kind="sign",
              identity_document="旅券")
    assert no_renewal.value.fields["reason"] == "no_certificate"
    image = card.read_bytes()
    with pytest.raises(NotEligible):
        reissue(services, operator="clerk", card_path=card, kind="sign",
                identity_document="旅券")
    assert card.read_bytes() == image and _record(sessions, code).signing_serial is None
    clock.set(datetime(2026, 5, 31, 15, 0, tzinfo=UTC))  # 1 June 00:00 JST
    done = reissue(services, operator="clerk", card_path=card, kind="sign",
                   identity_document="旅券")
    assert done.superseded == []
    assert _record(sessions, code).signing_serial == str(done.issued["sign"].serial)
    _signs_with(services, card, "sign", SIGNING_PASSWORD)


def test_an_auditor_renews_nothing_and_an_identity_document_is_required(
        card_instance: Path, register: Register, services: Services, jpki: Jpki,
        clock: FrozenClock) -> None:
    card, _ = enrol_card(jpki, card_instance, arrive(register))
    clock.set(TWO_MONTHS_BEFORE)
    image = card.read_bytes()
    denied = jpki("card", "renew", str(card), "--identity-document", "旅券", "--operator",
                  "auditor", ok=False)
    assert denied.exit_code == 1 and "may not" in denied.output
    with pytest.raises(InvalidInput, match="identity document"):
        renew(services, operator="clerk", card_path=card, identity_document="  ")
    assert card.read_bytes() == image
