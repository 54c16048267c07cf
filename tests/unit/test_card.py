"""The JPKI application behind APDUs: transcripts (hex in, hex out), PIN lockout, signing."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from pki.card import Kind, VirtualCard
from pki.card.apdu import Command
from pki.card.image import ImageError, read_image
from pki.card.jpki_app import SHA256_DIGEST_INFO_PREFIX, TOKEN_INFO, _raw_pkcs1_sign, sign_pkcs1

SEAL_KEY = bytes(range(32))
AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123"
START = datetime(2026, 4, 1, tzinfo=UTC)

SELECT_AP = "00A4040C0AD392F000260100000001"
SELECT = {ef: f"00A4020C02{ef}" for ef in ("0001", "0002", "0006", "000A", "000B")}
SELECT.update({ef: f"00A4020C02{ef}" for ef in ("0017", "0018", "001A", "001B")})
VERIFY_AUTH_OK = "0020008004" + AUTH_PIN.encode().hex()
VERIFY_AUTH_BAD = "0020008004" + b"9999".hex()
VERIFY_SIGN_OK = "0020008006" + SIGN_PASSWORD.encode().hex()
VERIFY_SIGN_BAD = "0020008006" + b"ZZZ999".hex()


@dataclass(frozen=True)
class Issued:
    """A card image with certificates installed, and what the issuer knows about it."""

    path: Path
    certs: dict[Kind, x509.Certificate]
    ca_certs: dict[Kind, x509.Certificate]


def _name(cn: str, ou: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP")]
    if ou:
        attrs += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        ]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPublicKey, ca_key: rsa.RSAPrivateKey
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(START + timedelta(days=3 * 365))
        .sign(ca_key, hashes.SHA256())
    )


def issue_card(folder: Path) -> Issued:
    """Create a card, certify its two keys under two test CAs, install the certificates."""
    path = folder / "card.img"
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certs, ca_certs = {}, {}
    with VirtualCard.create(
        path, SEAL_KEY, auth_pin=AUTH_PIN, signing_password=SIGN_PASSWORD
    ) as card:
        units: dict[Kind, str] = {"auth": "user authentication", "sign": "digital signature"}
        for kind, ou in units.items():
            ca_name = _name(f"test CA {kind}", f"JPKI for {ou}")
            ca_certs[kind] = _cert(ca_name, ca_name, ca_key.public_key(), ca_key)
            certs[kind] = _cert(_name(f"holder {kind}"), ca_name, card.public_key(kind), ca_key)
        card.install_certificates(
            auth_cert=der(certs["auth"]),
            auth_ca_cert=der(ca_certs["auth"]),
            sign_cert=der(certs["sign"]),
            sign_ca_cert=der(ca_certs["sign"]),
        )
    return Issued(path, certs, ca_certs)


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    return issue_card(tmp_path_factory.mktemp("card"))


@pytest.fixture
def card_path(issued: Issued, tmp_path: Path) -> Path:
    """A fresh copy of the issued image for each test (keys are generated once per module)."""
    path = tmp_path / "card.img"
    shutil.copyfile(issued.path, path)
    return path


@pytest.fixture
def card(card_path: Path) -> Iterator[VirtualCard]:
    with VirtualCard.open(card_path, SEAL_KEY) as opened:
        yield opened


def run(card: VirtualCard, *exchanges: tuple[str, str]) -> None:
    """Play a transcript: each command (hex) must get exactly the expected response (hex)."""
    for number, (command, expected) in enumerate(exchanges):
        got = card.transmit(bytes.fromhex(command.replace(" ", ""))).hex().upper()
        assert got == expected.replace(" ", "").upper(), f"step {number}: {command}"


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


DIGEST = hashlib.sha256(b"e-Tax submission").digest()
SIGN_COMMAND = "802A008033" + (SHA256_DIGEST_INFO_PREFIX + DIGEST).hex() + "00"


# --- SELECT, READ BINARY and the refusals --------------------------------------------------------

TRANSCRIPTS: dict[str, list[tuple[str, str]]] = {
    "select the JPKI AP": [(SELECT_AP, "9000")],
    "PIV probe (unknown AID, P2 00)": [("00A4040009A00000030800001000", "6A82")],
    "EMV probe (unknown AID)": [("00A4040C07A0000000041010", "6A82")],
    "JPKI AID asking for FCI": [("00A404000AD392F000260100000001", "6A86")],
    "EF select before the AP": [(SELECT["0006"], "6A82")],
    "unknown EF": [(SELECT_AP, "9000"), ("00A4020C020099", "6A82")],
    "EF id of one byte": [(SELECT_AP, "9000"), ("00A4020C0100", "6700")],
    "select by path": [(SELECT_AP, "9000"), ("00A4080C020006", "6A86")],
    "EF select asking for FCI": [(SELECT_AP, "9000"), ("00A40200020006", "6A86")],
    "token info": [
        (SELECT_AP, "9000"),
        (SELECT["0006"], "9000"),
        ("00B0000020", TOKEN_INFO.hex() + "9000"),
    ],
    "token info, Le 00 means 256": [
        (SELECT_AP, "9000"),
        (SELECT["0006"], "9000"),
        ("00B0000000", TOKEN_INFO.hex() + "6282"),
    ],
    "token info, extended Le": [
        (SELECT_AP, "9000"),
        (SELECT["0006"], "9000"),
        ("00B00000000000", TOKEN_INFO.hex() + "6282"),
    ],
    "read at an offset": [
        (SELECT_AP, "9000"),
        (SELECT["0006"], "9000"),
        ("00B0000A05", TOKEN_INFO[10:15].hex() + "9000"),
    ],
    "offset beyond the EF": [(SELECT_AP, "9000"), (SELECT["0006"], "9000"), ("00B0002001", "6B00")],
    "short EF identifier": [(SELECT_AP, "9000"), ("00B0860000", "6A86")],
    "READ BINARY without Le": [(SELECT_AP, "9000"), (SELECT["0006"], "9000"), ("00B00000", "6700")],
    "READ BINARY without a current EF": [(SELECT_AP, "9000"), ("00B0000004", "6986")],
    "READ BINARY before the AP": [("00B0000004", "6986")],
    "the auth key is not readable": [
        (SELECT_AP, "9000"),
        (SELECT["0017"], "9000"),
        ("00B0000004", "6981"),
    ],
    "the signing key is not readable": [
        (SELECT_AP, "9000"),
        (SELECT["001A"], "9000"),
        ("00B0000004", "6981"),
    ],
    "the PIN is not readable": [
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        ("00B0000004", "6981"),
    ],
    "signing certificate before the password": [
        (SELECT_AP, "9000"),
        (SELECT["0001"], "9000"),
        ("00B0000004", "6982"),
    ],
    "GET DATA": [("00CA010000", "6D00")],
    "GET CHALLENGE": [(SELECT_AP, "9000"), ("0084000008", "6D00")],
    "GET RESPONSE": [("00C0000000", "6D00")],
    "proprietary class on SELECT": [("80A4040C0AD392F000260100000001", "6E00")],
    "unknown class": [("A0A4040C0AD392F000260100000001", "6E00")],
    "secure messaging class": [("0CB0000004", "6E00")],
    "ISO PSO class on the signing INS": [("002A9E9A20" + DIGEST.hex() + "00", "6E00")],
    "unknown class and instruction": [("B0CA000000", "6E00")],
    "three bytes": [("00A404", "6700")],
    "Lc longer than the data": [("00A4040C0AD392F0", "6700")],
    "data after Le": [("00A4040C01D30000", "6700")],
    "truncated extended length": [("00B0000000FF", "6700")],
}


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_transcript(card: VirtualCard, name: str) -> None:
    run(card, *TRANSCRIPTS[name])


def test_failed_select_keeps_the_application(card: VirtualCard) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        ("00A4040C07A0000000041010", "6A82"),
        (SELECT["0006"], "9000"),
    )


def test_public_certificates_are_readable_without_pin(card: VirtualCard, issued: Issued) -> None:
    for ef, cert in (
        ("000A", issued.certs["auth"]),
        ("000B", issued.ca_certs["auth"]),
        ("0002", issued.ca_certs["sign"]),
    ):
        body = der(cert)
        run(
            card,
            (SELECT_AP, "9000"),
            (SELECT[ef], "9000"),
            ("00B0000004", body[:4].hex() + "9000"),
            ("00B0010010", body[256:272].hex() + "9000"),
            ("00B0" + (len(body) - 3).to_bytes(2).hex() + "00", body[-3:].hex() + "6282"),
        )


def test_signing_certificate_needs_the_signing_password(card: VirtualCard, issued: Issued) -> None:
    body = der(issued.certs["sign"])
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        (VERIFY_AUTH_OK, "9000"),
        (SELECT["0001"], "9000"),
        ("00B0000004", "6982"),  # the auth PIN is not the signing password
        (SELECT["001B"], "9000"),
        (VERIFY_SIGN_OK, "9000"),
        (SELECT["0001"], "9000"),
        ("00B0000004", body[:4].hex() + "9000"),
    )


# --- VERIFY and lockout ---------------------------------------------------------------------------


def test_empty_verify_reports_tries_without_spending_one(card: VirtualCard) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        ("00200080", "63C3"),
        ("0020008000", "63C3"),  # the same query sent as case 2 (Le 00)
        (VERIFY_AUTH_OK, "9000"),
        ("00200080", "63C3"),  # OpenSC expects SW1 63 even when verified
        (SELECT["001B"], "9000"),
        ("00200080", "63C5"),
    )


@pytest.mark.parametrize(
    ("exchanges"),
    [
        [(SELECT_AP, "9000"), ("00200080", "6986")],
        [(SELECT_AP, "9000"), (SELECT["0006"], "9000"), ("00200080", "6981")],
        [(SELECT_AP, "9000"), (SELECT["0017"], "9000"), (VERIFY_AUTH_OK, "6981")],
        [(SELECT_AP, "9000"), (SELECT["0018"], "9000"), ("00200180", "6A86")],
        [(SELECT_AP, "9000"), (SELECT["0018"], "9000"), ("00200081", "6A86")],
        [(SELECT_AP, "9000"), (SELECT["0018"], "9000"), ("00200080" + "11" + "31" * 17, "6700")],
        [("0020009804" + AUTH_PIN.encode().hex(), "6A82")],
    ],
    ids=["no EF", "not a PIN EF", "key EF", "P1", "P2", "too long", "before the AP"],
)
def test_verify_refusals(card: VirtualCard, exchanges: list[tuple[str, str]]) -> None:
    run(card, *exchanges)


def test_verify_can_name_the_pin_ef_in_p2(card: VirtualCard) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        ("0020009804" + AUTH_PIN.encode().hex(), "9000"),
        ("0020009B", "63C5"),
    )


def test_auth_pin_locks_after_three_wrong_tries(card: VirtualCard, card_path: Path) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        (VERIFY_AUTH_BAD, "63C2"),
        (VERIFY_AUTH_BAD, "63C1"),
        (VERIFY_AUTH_BAD, "63C0"),
        (VERIFY_AUTH_BAD, "6983"),
        (VERIFY_AUTH_OK, "6983"),  # even the right PIN
        ("00200080", "63C0"),
        ("002401800435363738", "6983"),
        (SELECT["0017"], "9000"),
        (SIGN_COMMAND, "6982"),
    )
    card.close()
    with VirtualCard.open(card_path, SEAL_KEY) as again:
        run(again, (SELECT_AP, "9000"), (SELECT["0018"], "9000"), (VERIFY_AUTH_OK, "6983"))


def test_signing_password_locks_after_five_wrong_tries(card: VirtualCard) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["001B"], "9000"),
        (VERIFY_SIGN_BAD, "63C4"),
        (VERIFY_SIGN_BAD, "63C3"),
        (VERIFY_SIGN_BAD, "63C2"),
        (VERIFY_SIGN_BAD, "63C1"),
        (VERIFY_SIGN_BAD, "63C0"),
        (VERIFY_SIGN_OK, "6983"),
        ("00200080", "63C0"),
        (SELECT["0018"], "9000"),
        (VERIFY_AUTH_OK, "9000"),  # the other PIN is unaffected
        (SELECT["0001"], "9000"),
        ("00B0000004", "6982"),
    )


def test_locked_pin_is_reset_only_at_the_counter(card: VirtualCard) -> None:
    run(card, (SELECT_AP, "9000"), (SELECT["0018"], "9000"))
    run(card, *[(VERIFY_AUTH_BAD, sw) for sw in ("63C2", "63C1", "63C0", "6983")])
    card.reset_pin("auth", "4321")
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        ("00200080", "63C3"),
        (VERIFY_AUTH_OK, "63C2"),
        ("00200080" + "04" + b"4321".hex(), "9000"),
    )


def test_right_pin_restores_the_tries(card: VirtualCard) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        (VERIFY_AUTH_BAD, "63C2"),
        (VERIFY_AUTH_BAD, "63C1"),
        (VERIFY_AUTH_OK, "9000"),
        ("00200080", "63C3"),
    )


def test_wrong_pin_revokes_an_earlier_verification(card: VirtualCard) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        (VERIFY_AUTH_OK, "9000"),
        (VERIFY_AUTH_BAD, "63C2"),
        (SELECT["0017"], "9000"),
        (SIGN_COMMAND, "6982"),
    )


def test_tries_persist_across_reopening(card: VirtualCard, card_path: Path) -> None:
    run(card, (SELECT_AP, "9000"), (SELECT["0018"], "9000"), (VERIFY_AUTH_BAD, "63C2"))
    card.close()
    with VirtualCard.open(card_path, SEAL_KEY) as again:
        run(again, (SELECT_AP, "9000"), (SELECT["0018"], "9000"), ("00200080", "63C2"))


def test_wrong_pin_is_on_disk_before_the_answer(card: VirtualCard, card_path: Path) -> None:
    """A process killed right after a wrong PIN has already stored the spent try."""
    run(card, (SELECT_AP, "9000"), (SELECT["001B"], "9000"), (VERIFY_SIGN_BAD, "63C4"))
    assert read_image(card_path, SEAL_KEY).pins["sign"].tries_left == 4


def test_unwritable_counter_fails_closed(
    card: VirtualCard, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ImageError("disk full")

    monkeypatch.setattr("pki.card.jpki_app.write_image", broken)
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        (VERIFY_AUTH_OK, "6581"),
        (SELECT["0017"], "9000"),
        (SIGN_COMMAND, "6982"),
    )


def test_reselecting_the_application_clears_verification(card: VirtualCard) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["001B"], "9000"),
        (VERIFY_SIGN_OK, "9000"),
        (SELECT["0001"], "9000"),
        ("00B0000001", "309000"),
        (SELECT_AP, "9000"),
        (SELECT["0001"], "9000"),
        ("00B0000001", "6982"),
        (SELECT["001A"], "9000"),
        (SIGN_COMMAND, "6982"),
    )


def test_power_cycle_clears_everything(card: VirtualCard) -> None:
    run(card, (SELECT_AP, "9000"), (SELECT["0018"], "9000"), (VERIFY_AUTH_OK, "9000"))
    card.reset()
    run(card, (SELECT["0017"], "6A82"), (SIGN_COMMAND, "6986"))


# --- CHANGE REFERENCE DATA ------------------------------------------------------------------------


def test_change_auth_pin(card: VirtualCard) -> None:
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        ("002401800435363738", "6982"),  # not verified yet
        (VERIFY_AUTH_OK, "9000"),
        ("002400800435363738", "6A86"),  # P1 00 (old + new) is not supported
        ("002401800431326134", "6A80"),  # "12a4" breaks the rules
        ("00240180053132333435", "6A80"),  # five digits
        ("00240180", "6700"),
        ("002401800435363738", "9000"),
        (SELECT_AP, "9000"),
        (SELECT["0018"], "9000"),
        (VERIFY_AUTH_OK, "63C2"),
        ("002000800435363738", "9000"),
    )


def test_change_signing_password(card: VirtualCard) -> None:
    new = b"NEWPASS9"
    run(
        card,
        (SELECT_AP, "9000"),
        (SELECT["001B"], "9000"),
        (VERIFY_SIGN_OK, "9000"),
        ("0024018006" + b"abc123".hex(), "6A80"),  # lower case
        ("0024018006" + b"ABCDEF".hex(), "6A80"),  # no digit
        ("0024018008" + new.hex(), "9000"),
        (SELECT_AP, "9000"),
        (SELECT["001B"], "9000"),
        ("0020008008" + new.hex(), "9000"),
    )


# --- COMPUTE DIGITAL SIGNATURE and READ PUBLIC KEY ------------------------------------------------


def _signature(card: VirtualCard, pin_ef: str, verify: str, key_ef: str, command: str) -> bytes:
    run(card, (SELECT_AP, "9000"), (SELECT[pin_ef], "9000"), (verify, "9000"))
    run(card, (SELECT[key_ef], "9000"))
    response = card.transmit(bytes.fromhex(command))
    assert response[-2:] == b"\x90\x00"
    assert len(response) == 258
    return response[:-2]


@pytest.mark.parametrize(
    ("kind", "pin_ef", "verify", "key_ef"),
    [("auth", "0018", VERIFY_AUTH_OK, "0017"), ("sign", "001B", VERIFY_SIGN_OK, "001A")],
)
def test_signature_verifies_with_the_certificate(
    card: VirtualCard, issued: Issued, kind: Kind, pin_ef: str, verify: str, key_ef: str
) -> None:
    signature = _signature(card, pin_ef, verify, key_ef, SIGN_COMMAND)
    key = issued.certs[kind].public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"e-Tax submission", padding.PKCS1v15(), hashes.SHA256())


def test_raw_pkcs1_input_is_signed_as_received(card: VirtualCard, issued: Issued) -> None:
    """OpenSC may send raw CKM_RSA_PKCS input; the card pads exactly what it gets."""
    payload = hashlib.md5(b"x").digest() + hashlib.sha1(b"x").digest()  # TLS 1.1 style, 36 bytes
    command = Command(0x80, 0x2A, 0x00, 0x80, payload, le=256).encode().hex()
    signature = _signature(card, "0018", VERIFY_AUTH_OK, "0017", command)
    key = issued.certs["auth"].public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.recover_data_from_signature(signature, padding.PKCS1v15(), None) == payload


def test_sha512_digest_info_is_signed(card: VirtualCard, issued: Issued) -> None:
    prefix = bytes.fromhex("3051300d060960864801650304020305000440")
    payload = prefix + hashlib.sha512(b"doc").digest()
    command = Command(0x80, 0x2A, 0x00, 0x80, payload, le=256).encode().hex()
    signature = _signature(card, "001B", VERIFY_SIGN_OK, "001A", command)
    key = issued.certs["sign"].public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, b"doc", padding.PKCS1v15(), hashes.SHA512())


def test_sha256_fast_path_matches_raw_rsa() -> None:
    """NOTES.md: Prehashed signing is byte-identical to type-1 padding + raw RSA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = SHA256_DIGEST_INFO_PREFIX + DIGEST
    assert sign_pkcs1(key, payload) == _raw_pkcs1_sign(key, payload)


@pytest.mark.parametrize(
    ("exchanges"),
    [
        [(SELECT["0017"], "9000"), (SIGN_COMMAND, "6982")],  # no VERIFY
        [
            (SELECT["0018"], "9000"),
            (VERIFY_AUTH_OK, "9000"),
            (SELECT["001A"], "9000"),
            (SIGN_COMMAND, "6982"),
        ],  # auth PIN does not open the signing key
        [(SELECT["0018"], "9000"), (VERIFY_AUTH_OK, "9000"), (SIGN_COMMAND, "6981")],
        [
            (SELECT["0018"], "9000"),
            (VERIFY_AUTH_OK, "9000"),
            (SELECT["0017"], "9000"),
            ("802A0080", "6700"),
        ],  # nothing to sign
        [
            (SELECT["0018"], "9000"),
            (VERIFY_AUTH_OK, "9000"),
            (SELECT["0017"], "9000"),
            (Command(0x80, 0x2A, 0, 0x80, b"\x01" * 246, le=256).encode().hex(), "6700"),
        ],
        [
            (SELECT["0018"], "9000"),
            (VERIFY_AUTH_OK, "9000"),
            (SELECT["0017"], "9000"),
            (SIGN_COMMAND[:-2] + "80", "6700"),
        ],  # Le too small for 256 bytes
        [
            (SELECT["0018"], "9000"),
            (VERIFY_AUTH_OK, "9000"),
            (SELECT["0017"], "9000"),
            ("802A9E9A33" + SIGN_COMMAND[10:], "6A86"),
        ],
        [("802A0080" + SIGN_COMMAND[8:], "6986")],  # no current EF
    ],
    ids=[
        "no verify",
        "wrong PIN kind",
        "PIN EF current",
        "empty",
        "246 bytes",
        "Le",
        "P1P2",
        "no EF",
    ],
)
def test_signing_refusals(card: VirtualCard, exchanges: list[tuple[str, str]]) -> None:
    run(card, (SELECT_AP, "9000"), *exchanges)


def test_245_bytes_can_be_signed(card: VirtualCard, issued: Issued) -> None:
    payload = bytes(range(245))
    command = Command(0x80, 0x2A, 0x00, 0x80, payload, le=256).encode().hex()
    signature = _signature(card, "0018", VERIFY_AUTH_OK, "0017", command)
    key = issued.certs["auth"].public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.recover_data_from_signature(signature, padding.PKCS1v15(), None) == payload


def test_read_public_key(card: VirtualCard, issued: Issued) -> None:
    key = issued.certs["sign"].public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    modulus = key.public_numbers().n.to_bytes(256)
    expected = "7F49820109" + "81820100" + modulus.hex() + "8203010001"
    run(
        card,
        (SELECT_AP, "9000"),
        ("0047810000" + "0000", "6986"),
        (SELECT["001A"], "9000"),
        ("0047810000" + "0000", expected + "9000"),
        ("0047810000", "6700"),  # 256 bytes are not enough for the template
        ("00478000", "6A86"),  # no key generation after issuance
        (SELECT["0018"], "9000"),
        ("0047810000" + "0000", "6981"),
    )


# --- APDU codec -----------------------------------------------------------------------------------


@given(
    header=st.tuples(*[st.integers(0, 255)] * 4),
    data=st.binary(max_size=300),
    le=st.none() | st.integers(1, 65536),
)
def test_command_encoding_round_trips(
    header: tuple[int, int, int, int], data: bytes, le: int | None
) -> None:
    command = Command(*header, data=data, le=le)
    assert Command.parse(command.encode()) == command


def test_command_encodings() -> None:
    assert Command(0, 0xB0, 0, 0, le=256).encode().hex() == "00b0000000"
    assert Command(0, 0xB0, 0, 0, le=65536).encode().hex() == "00b00000000000"
    assert Command(0, 0x20, 0, 0x80).encode().hex() == "00200080"
    big = Command(0x80, 0x2A, 0, 0x80, b"\x01" * 256, le=256).encode()
    assert big[4:7].hex() == "000100" and big[-2:].hex() == "0100"
