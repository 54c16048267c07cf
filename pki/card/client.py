"""The Python API of a JPKI card, built only on ``transmit`` (the same APDUs as a real card).

Every helper starts by selecting the JPKI application, which clears earlier verifications, then
does what client software for the real card does (select the PIN EF, VERIFY, select the key EF,
``80 2A``), so it works against any reader that offers ``transmit(apdu) -> response``.
PINs are checked against the JPKI rules before they reach the card, so a typo in the format never
costs a try.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from pki.card.apdu import SW, CardError, Command, Response, StatusError, check
from pki.card.jpki_app import (
    AID,
    CA_CERT_EF,
    CERT_EF,
    EF,
    KEY_EF,
    MAX_SIGN_INPUT,
    PIN_EF,
    SHA256_DIGEST_INFO_PREFIX,
    Kind,
    VirtualCard,
    check_pin_format,
)


class Reader(Protocol):
    """Anything that carries APDUs to a card."""

    def transmit(self, apdu: bytes) -> bytes: ...


def _der_length(header: bytes) -> int:
    """Total length of the DER element whose first bytes are ``header``."""
    if len(header) < 2:
        raise CardError("EF too short for a DER element")
    first = header[1]
    if first < 0x80:
        return 2 + first
    size = first & 0x7F
    if size == 0 or size > 3 or len(header) < 2 + size:
        raise CardError("EF does not hold a DER element")
    return 2 + size + int.from_bytes(header[2 : 2 + size])


class Card:
    """A JPKI card seen through APDUs."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._owned: VirtualCard | None = None

    @classmethod
    def open(cls, path: Path, seal_key: bytes) -> Card:
        """Open a virtual card image (see :class:`~pki.card.jpki_app.VirtualCard`)."""
        virtual = VirtualCard.open(Path(path), seal_key)
        card = cls(virtual)
        card._owned = virtual
        return card

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> Card:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; get response data followed by SW1 SW2."""
        return self._reader.transmit(apdu)

    def _send(self, command: Command) -> Response:
        return Response.parse(self.transmit(command.encode()))

    def _call(self, command: Command) -> bytes:
        return check(self._send(command))

    def select_application(self) -> None:
        """SELECT the JPKI-AP by AID (clears every verification)."""
        self._call(Command(0x00, 0xA4, 0x04, 0x0C, AID))

    def _select_ef(self, ef: EF) -> None:
        self._call(Command(0x00, 0xA4, 0x02, 0x0C, ef.to_bytes(2)))

    def _verify(self, kind: Kind, pin: str) -> None:
        check_pin_format(kind, pin)
        self._select_ef(PIN_EF[kind])
        self._call(Command(0x00, 0x20, 0x00, 0x80, pin.encode("ascii")))

    def _read_binary(self, offset: int, length: int) -> bytes:
        response = self._send(Command(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length))
        if response.sw == SW.END_OF_FILE:
            return response.data
        return check(response)

    def _read_der(self, ef: EF) -> bytes:
        self._select_ef(ef)
        data = self._read_binary(0, 4)  # as OpenSC does: the DER header gives the size
        total = _der_length(data)
        while len(data) < total:
            chunk = self._read_binary(len(data), min(256, total - len(data)))
            if not chunk:
                raise CardError(f"EF {ef:04X} ends before its DER element")
            data += chunk
        return data[:total]

    def read_certificate(self, kind: Kind, pin: str | None = None) -> x509.Certificate:
        """Read the card's certificate; the signing certificate needs the signing password."""
        self.select_application()
        if pin is not None:
            self._verify(kind, pin)
        return x509.load_der_x509_certificate(self._read_der(CERT_EF[kind]))

    def read_ca_certificate(self, kind: Kind) -> x509.Certificate:
        """Read the CA certificate installed beside the card's certificate."""
        self.select_application()
        return x509.load_der_x509_certificate(self._read_der(CA_CERT_EF[kind]))

    def verify_pin(self, kind: Kind, pin: str) -> None:
        """Select the application and VERIFY; the PIN stays verified until the next selection.

        Raises :class:`~pki.card.apdu.WrongPin` (with ``tries_left``) or
        :class:`~pki.card.apdu.PinLocked`.
        """
        self.select_application()
        self._verify(kind, pin)

    def tries_left(self, kind: Kind) -> int:
        """Tries left before the PIN locks (0 = locked), by an empty VERIFY that spends none."""
        self.select_application()
        self._select_ef(PIN_EF[kind])
        response = self._send(Command(0x00, 0x20, 0x00, 0x80))
        if response.sw & 0xFFF0 != 0x63C0:
            raise StatusError(response.sw)
        return response.sw & 0x0F

    def change_pin(self, kind: Kind, old: str, new: str) -> None:
        """VERIFY the old PIN, then CHANGE REFERENCE DATA to the new one."""
        check_pin_format(kind, new)
        self.verify_pin(kind, old)
        self._call(Command(0x00, 0x24, 0x01, 0x80, new.encode("ascii")))

    def sign(self, kind: Kind, digest: bytes, pin: str) -> bytes:
        """Sign a SHA-256 digest: PKCS#1 v1.5 over its DigestInfo, after VERIFY of ``pin``."""
        if len(digest) != 32:
            raise CardError("sign() takes a 32-byte SHA-256 digest")
        return self.sign_raw(kind, SHA256_DIGEST_INFO_PREFIX + digest, pin)

    def sign_raw(self, kind: Kind, payload: bytes, pin: str) -> bytes:
        """Sign ``payload`` (1–245 bytes, e.g. another DigestInfo) as the card receives it."""
        if not 1 <= len(payload) <= MAX_SIGN_INPUT:
            raise CardError(f"the card signs 1 to {MAX_SIGN_INPUT} bytes")
        self.verify_pin(kind, pin)
        self._select_ef(KEY_EF[kind])
        return self._call(Command(0x80, 0x2A, 0x00, 0x80, payload, le=256))

    def public_key(self, kind: Kind) -> rsa.RSAPublicKey:
        """Read the public key of a card key (``00 47 81 00``), for enrolment."""
        self.select_application()
        self._select_ef(KEY_EF[kind])
        body = self._call(Command(0x00, 0x47, 0x81, 0x00, le=65536))
        return _parse_public_key(body)

    def token_info(self) -> str:
        """The token name in EF 0006 (``JPKIAPICCTOKEN2`` for a card)."""
        self.select_application()
        self._select_ef(EF.TOKEN_INFO)
        return self._read_binary(0, 32).decode("ascii").rstrip(" ")


def _take(data: bytes, tag: bytes) -> tuple[bytes, bytes]:
    """Split one BER-TLV with ``tag`` off the front of ``data``: (value, rest)."""
    pos = len(tag)
    if not data.startswith(tag) or len(data) <= pos:
        raise CardError("unexpected public key template")
    length = data[pos]
    pos += 1
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[pos : pos + size])
        pos += size
    value = data[pos : pos + length]
    if len(value) != length:
        raise CardError("truncated public key template")
    return value, data[pos + length :]


def _parse_public_key(body: bytes) -> rsa.RSAPublicKey:
    """Parse ``7F49 { 81 modulus, 82 exponent }``."""
    inner, _ = _take(body, b"\x7f\x49")
    modulus, rest = _take(inner, b"\x81")
    exponent, _ = _take(rest, b"\x82")
    return rsa.RSAPublicNumbers(int.from_bytes(exponent), int.from_bytes(modulus)).public_key()
