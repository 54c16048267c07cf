"""The Python card API built on transmit, enrolment calls, and the JPKI PIN rules."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st

from pki.card import (
    KINDS,
    Card,
    CertificateMismatch,
    FileNotFound,
    Kind,
    PinFormatError,
    PinLocked,
    SecurityStatusNotSatisfied,
    VirtualCard,
    WrongPin,
    check_pin_format,
)
from tests.unit.test_card import AUTH_PIN, SEAL_KEY, SIGN_PASSWORD, Issued, der, issue_card

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    return issue_card(tmp_path_factory.mktemp("card"))


@pytest.fixture
def card(issued: Issued, tmp_path: Path) -> Iterator[Card]:
    path = tmp_path / "card.img"
    shutil.copyfile(issued.path, path)
    with Card.open(path, SEAL_KEY) as opened:
        yield opened


def _rsa(key: object) -> rsa.RSAPublicKey:
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_token_info(card: Card) -> None:
    assert card.token_info() == "JPKIAPICCTOKEN2"


def test_read_certificates(card: Card, issued: Issued) -> None:
    assert card.read_certificate("auth") == issued.certs["auth"]
    assert card.read_ca_certificate("auth") == issued.ca_certs["auth"]
    assert card.read_ca_certificate("sign") == issued.ca_certs["sign"]
    assert card.read_certificate("sign", SIGN_PASSWORD) == issued.certs["sign"]


def test_signing_certificate_needs_the_password(card: Card) -> None:
    with pytest.raises(SecurityStatusNotSatisfied):
        card.read_certificate("sign")


def test_verify_and_tries_left(card: Card) -> None:
    assert card.tries_left("auth") == 3
    assert card.tries_left("sign") == 5
    with pytest.raises(WrongPin) as wrong:
        card.verify_pin("auth", "0000")
    assert wrong.value.tries_left == 2
    assert card.tries_left("auth") == 2
    card.verify_pin("auth", AUTH_PIN)
    assert card.tries_left("auth") == 3


def test_lockout_through_the_api(card: Card) -> None:
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(WrongPin) as wrong:
            card.verify_pin("sign", "WRONG1")
        assert wrong.value.tries_left == left
    with pytest.raises(PinLocked):
        card.verify_pin("sign", SIGN_PASSWORD)
    with pytest.raises(PinLocked):
        card.sign("sign", bytes(32), SIGN_PASSWORD)
    assert card.tries_left("sign") == 0


def test_badly_formed_pin_costs_no_try(card: Card) -> None:
    with pytest.raises(PinFormatError):
        card.verify_pin("auth", "12345")
    with pytest.raises(PinFormatError):
        card.verify_pin("sign", "abc123")
    assert card.tries_left("auth") == 3
    assert card.tries_left("sign") == 5


def test_change_pin(card: Card) -> None:
    card.change_pin("auth", AUTH_PIN, "9876")
    with pytest.raises(WrongPin):
        card.verify_pin("auth", AUTH_PIN)
    card.verify_pin("auth", "9876")
    with pytest.raises(PinFormatError):
        card.change_pin("sign", SIGN_PASSWORD, "ONLYLETTERS")
    with pytest.raises(WrongPin):
        card.change_pin("sign", "WRONG1", "GOOD12")
    card.change_pin("sign", SIGN_PASSWORD, "GOOD12")
    card.verify_pin("sign", "GOOD12")


@pytest.mark.parametrize(("kind", "pin"), [("auth", AUTH_PIN), ("sign", SIGN_PASSWORD)])
def test_sign_verifies_with_the_certificate(
    card: Card, issued: Issued, kind: Kind, pin: str
) -> None:
    message = "申告データ".encode()
    signature = card.sign(kind, hashlib.sha256(message).digest(), pin)
    key = _rsa(issued.certs[kind].public_key())
    key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_sign_refuses_what_is_not_a_sha256_digest(card: Card) -> None:
    with pytest.raises(Exception, match="32-byte"):
        card.sign("auth", bytes(20), AUTH_PIN)


def test_sign_with_a_wrong_pin(card: Card) -> None:
    with pytest.raises(WrongPin):
        card.sign("auth", bytes(32), "0000")


def test_public_key_matches_the_card_and_certificate(card: Card, issued: Issued) -> None:
    for kind in KINDS:
        key = card.public_key(kind)
        assert key.public_numbers() == _rsa(issued.certs[kind].public_key()).public_numbers()
        assert key.key_size == 2048


def test_card_works_over_any_reader(issued: Issued, tmp_path: Path) -> None:
    path = tmp_path / "card.img"
    shutil.copyfile(issued.path, path)
    with VirtualCard.open(path, SEAL_KEY) as virtual:
        assert Card(virtual).read_certificate("auth") == issued.certs["auth"]


def test_enrolment(issued: Issued, tmp_path: Path) -> None:
    """A fresh card has no certificates; the issuer installs only what belongs to it."""
    path = tmp_path / "new.img"
    with VirtualCard.create(path, SEAL_KEY, auth_pin="0000", signing_password="PASS99") as new:
        client = Card(new)
        with pytest.raises(FileNotFound):
            client.read_certificate("auth")
        assert client.public_key("auth") == new.public_key("auth")
        with pytest.raises(CertificateMismatch, match="this card's key"):
            new.install_certificates(
                auth_cert=der(issued.certs["auth"]), auth_ca_cert=der(issued.ca_certs["auth"])
            )
        with pytest.raises(CertificateMismatch, match="issued by"):
            new.install_certificates(
                auth_cert=der(issued.certs["auth"]), auth_ca_cert=der(issued.ca_certs["auth"])[:-5]
            )
        with pytest.raises(CertificateMismatch, match="both"):
            new.install_certificates(
                auth_cert=der(issued.certs["auth"]),
                auth_ca_cert=der(issued.ca_certs["auth"]),
                sign_cert=der(issued.certs["sign"]),
            )


# --- PIN rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["0000", "1234", "9999"])
def test_valid_auth_pins(pin: str) -> None:
    check_pin_format("auth", pin)


@pytest.mark.parametrize("pin", ["", "123", "12345", "12a4", "１２３４", "١٢٣٤", " 123", "12.4"])
def test_invalid_auth_pins(pin: str) -> None:
    with pytest.raises(PinFormatError):
        check_pin_format("auth", pin)


@pytest.mark.parametrize("pin", ["ABC123", "A1B2C3D4E5F6G7H8", "1A2345", "Z99999", "PASSWORD1"])
def test_valid_signing_passwords(pin: str) -> None:
    check_pin_format("sign", pin)


@pytest.mark.parametrize(
    "pin",
    [
        "AB123",
        "A1B2C3D4E5F6G7H8I",
        "ABCDEF",
        "123456",
        "abc123",
        "ABC 123",
        "ABC-123",
        "ＡＢＣ１２３",
    ],
)
def test_invalid_signing_passwords(pin: str) -> None:
    with pytest.raises(PinFormatError):
        check_pin_format("sign", pin)


@given(st.text(alphabet=UPPER + DIGITS, min_size=6, max_size=16))
def test_mixed_passwords_of_6_to_16_are_valid(pin: str) -> None:
    mixed = any(c in UPPER for c in pin) and any(c in DIGITS for c in pin)
    if mixed:
        check_pin_format("sign", pin)
    else:
        with pytest.raises(PinFormatError):
            check_pin_format("sign", pin)


@given(st.text(min_size=1, max_size=20).filter(lambda s: not set(s) <= set(UPPER + DIGITS)))
def test_any_other_character_is_refused(pin: str) -> None:
    with pytest.raises(PinFormatError):
        check_pin_format("sign", pin)


@given(st.text(max_size=8).filter(lambda s: not (len(s) == 4 and set(s) <= set(DIGITS))))
def test_auth_pin_is_exactly_four_ascii_digits(pin: str) -> None:
    with pytest.raises(PinFormatError):
        check_pin_format("auth", pin)
