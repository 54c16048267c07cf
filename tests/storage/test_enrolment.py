"""Card enrolment at the counter, from the shell: register → card → CA → card → register."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ca.tables import IssuedCertificate
from jukibridge import cards
from jukibridge.change_requests import Death
from jukibridge.register import Register
from jukibridge.tables import AuditEntry
from pki import basic_four
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive


def test_enrolment_issues_a_card_with_both_certificates(
        jpki: Jpki, card_instance: Path, register: Register,
        sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    card, out = enrol_card(jpki, card_instance, code)
    assert card.exists() and "signing certificate: " in out
    pem = jpki("card", "read-cert", str(card), "--kind", "sign",
               "--pin-file", str(card_instance / "sign.pin")).output
    signing = x509.load_pem_x509_certificate(pem.encode())
    four = basic_four.decode(signing)
    record = register.record(code, operator="clerk")
    assert four.name == record.name and four.birth_date == record.birth_date
    (document := card_instance / "form.xml").write_text("<DATA/>")
    jpki("card", "sign", str(card), str(document), "--pin-file", str(card_instance / "sign.pin"),
         "-o", str(card_instance / "form.sig"))
    public = signing.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify((card_instance / "form.sig").read_bytes(), document.read_bytes(),
                  padding.PKCS1v15(), hashes.SHA256())
    info = jpki("card", "info", str(card)).output
    assert "authentication PIN: 3 tries left" in info and "signing password: 5 tries left" in info
    with sessions() as session:
        (held,) = cards.cards_of(session, code)
        issued = session.scalars(select(IssuedCertificate).where(
            IssuedCertificate.card_id == held.card_id)).all()
        actions = session.scalars(select(AuditEntry.action)).all()
    assert held.signing_serial == str(signing.serial_number)
    assert held.identity_document == "運転免許証"
    assert {i.kind for i in issued} == {"sign", "auth"}
    assert "card.enrol" in actions
    assert hashlib.sha256(card.read_bytes()).hexdigest() not in out  # nothing of the image shown


def test_a_wrong_pin_uses_a_try_and_is_one_clear_line(jpki: Jpki, card_instance: Path,
                                                      register: Register) -> None:
    card, _ = enrol_card(jpki, card_instance, arrive(register))
    (wrong := card_instance / "wrong.pin").write_text("9999")
    result = jpki("card", "verify-pin", str(card), "--kind", "auth", "--pin-file", str(wrong),
                  ok=False)
    assert result.exit_code == 1 and "Error:" in result.output
    assert "9999" not in result.output
    assert "authentication PIN: 2 tries left" in jpki("card", "info", str(card)).output


def test_no_card_for_a_removed_record_and_nothing_left_behind(
        jpki: Jpki, card_instance: Path, register: Register,
        sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    register.perform("clerk", Death(resident_code=code))
    card, out = enrol_card(jpki, card_instance, code, ok=False)
    assert "removed" in out and not card.exists()
    assert not list(card_instance.glob(".card.jcard*"))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IssuedCertificate)) == 0
        assert cards.cards_of(session, code) == []


def test_an_auditor_cannot_enrol(jpki: Jpki, card_instance: Path, register: Register) -> None:
    code = arrive(register)
    card = card_instance / "card.jcard"
    result = jpki("card", "enrol", "--resident", code, "--out", str(card),
                  "--identity-document", "運転免許証", "--operator", "auditor",
                  "--auth-pin-file", str(card_instance / "auth.pin"),
                  "--signing-password-file", str(card_instance / "sign.pin"), ok=False)
    assert result.exit_code == 1 and "may not" in result.output and not card.exists()


def test_a_bad_password_rule_refuses_the_card(jpki: Jpki, card_instance: Path,
                                              register: Register) -> None:
    (card_instance / "sign.pin").write_text("abcdef")  # lower case, no digit
    card, out = enrol_card(jpki, card_instance, arrive(register), ok=False)
    assert "Error:" in out and not card.exists()


def test_a_locked_pin_is_reset_at_the_counter(jpki: Jpki, card_instance: Path,
                                              register: Register) -> None:
    card, _ = enrol_card(jpki, card_instance, arrive(register))
    (wrong := card_instance / "wrong.pin").write_text("9999")
    for _ in range(3):
        jpki("card", "verify-pin", str(card), "--kind", "auth", "--pin-file", str(wrong),
             ok=False)
    assert "authentication PIN: 0 tries left" in jpki("card", "info", str(card)).output
    (new := card_instance / "new.pin").write_text("4321")
    jpki("card", "reset-pin", str(card), "--kind", "auth", "--identity-document", "旅券",
         "--pin-file", str(new), "--operator", "clerk")
    jpki("card", "verify-pin", str(card), "--kind", "auth", "--pin-file", str(new))
    assert "authentication PIN: 3 tries left" in jpki("card", "info", str(card)).output


def test_lost_and_returned_cards(jpki: Jpki, card_instance: Path, register: Register,
                                 sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    with sessions() as session:
        (held,) = cards.cards_of(session, code)
    lost = jpki("card", "report-lost", held.card_id, "--operator", "clerk").output
    assert "is now lost" in lost and lost.count("certificateHold") == 2  # both on hold
    again = jpki("card", "return", held.card_id, "--operator", "clerk", ok=False)
    assert again.exit_code == 1 and "the card is lost" in again.output
    (new := card_instance / "new.pin").write_text("4321")
    refused = jpki("card", "reset-pin", str(card), "--kind", "auth", "--identity-document",
                   "旅券", "--pin-file", str(new), "--operator", "clerk", ok=False)
    assert refused.exit_code == 1 and "lost" in refused.output
    with sessions() as session:
        assert [c.state for c in cards.cards_of(session, code)] == ["lost"]
