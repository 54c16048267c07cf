"""The JPKI application (JPKI-AP) as a state machine behind APDUs, and the card that holds it.

Commands, as the real card and OpenSC's ``jpki`` driver use them (DESIGN.md §5):

- ``00 A4 04 0C`` SELECT the application by AID. Selecting it again clears every verification.
- ``00 A4 02 0C`` SELECT an EF by its two-byte id (only inside the application).
- ``00 B0`` READ BINARY of the current EF, offset P1P2 (15 bits), short or extended Le.
- ``00 20 00 80`` VERIFY the PIN of the current PIN EF (0018 auth PIN, 001B signing password).
  Without a body it spends nothing and answers ``63 Cx`` with the tries left (``63 C0`` when
  locked): OpenSC reads the count from SW2 and expects SW1 ``63`` even after a good VERIFY.
- ``00 24 01 80`` CHANGE REFERENCE DATA: the body is the new PIN only; the current one must have
  been verified since selection (as the real card: VERIFY, then CHANGE).
- ``80 2A 00 80`` COMPUTE DIGITAL SIGNATURE with the current key EF (0017 auth, 001A signing)
  after VERIFY of the matching PIN: the body (1–245 bytes) is padded with PKCS#1 v1.5 type 1 and
  signed, so a SHA-256 DigestInfo gives an ordinary sha256WithRSAEncryption signature and raw
  ``CKM_RSA_PKCS`` input from OpenSC is signed exactly as received.
- ``00 47 81 00`` READ PUBLIC KEY of the current key EF (ISO/IEC 7816-8 GENERATE ASYMMETRIC KEY
  PAIR, read-only mode), answering ``7F49 { 81 modulus, 82 exponent }`` with extended Le: the
  issuer's way to get the public key to certify. Not on the real card's public interface; it only
  reveals public data. P1 ``80`` (generate) answers ``6A 86``: no APDU makes or replaces a key.
  Keys are made at issuance and replaced only by the issuer's maintenance call
  :meth:`VirtualCard.regenerate_key` (renewal, re-issue), which needs the seal key.

In P2 of VERIFY, CHANGE and SIGN, ``80`` means the current EF; ``80 | id`` (``98``, ``9B``,
``97``, ``9A``) names the PIN or key EF directly.

Status words: ``90 00``; ``62 82`` short read at the end of an EF; ``65 81`` the image could not
be written (nothing granted); ``67 00`` wrong length or malformed APDU; ``69 81`` the current EF
is of the wrong kind; ``69 82`` PIN not verified; ``69 83`` PIN locked (VERIFY or CHANGE with a
body; OpenSC turns it into ``CKR_PIN_LOCKED``); ``69 86`` no current EF; ``6A 80`` new PIN
breaks the PIN rules; ``6A 82`` unknown AID or EF; ``6A 86`` wrong P1/P2; ``6B 00`` offset
beyond the EF; ``6D 00`` unknown instruction; ``6E 00`` unknown class. A foreign application
probe never gets ``90 00``.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import secrets
import threading
import uuid
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import IO, Literal, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from pki.card.apdu import SW, CardError, Command, MalformedApdu, Response, tries_left_sw
from pki.card.image import (
    CardImage,
    ImageError,
    PinRecord,
    RolledBackImage,
    read_image,
    write_image,
)

Kind = Literal["auth", "sign"]
KINDS: tuple[Kind, ...] = get_args(Kind)

AID = bytes.fromhex("D392F000260100000001")
ATR = bytes.fromhex("3BE000FF8131FE4514")  # the ATR OpenSC's jpki driver matches
TOKEN_INFO = b"JPKIAPICCTOKEN2".ljust(32, b" ")  # EF 0006 of an Individual Number Card
# DER prefix of a SHA-256 DigestInfo with NULL parameters (RFC 8017 §9.2, note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
MAX_SIGN_INPUT = 245  # k - 11 for a 2048-bit key (RFC 8017 §8.2.1)


class EF(IntEnum):
    """Elementary files of the JPKI application."""

    SIGN_CERT = 0x0001
    SIGN_CA_CERT = 0x0002
    TOKEN_INFO = 0x0006
    AUTH_CERT = 0x000A
    AUTH_CA_CERT = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_KEY = 0x001A
    SIGN_PIN = 0x001B


PIN_EF: dict[Kind, EF] = {"auth": EF.AUTH_PIN, "sign": EF.SIGN_PIN}
KEY_EF: dict[Kind, EF] = {"auth": EF.AUTH_KEY, "sign": EF.SIGN_KEY}
CERT_EF: dict[Kind, EF] = {"auth": EF.AUTH_CERT, "sign": EF.SIGN_CERT}
CA_CERT_EF: dict[Kind, EF] = {"auth": EF.AUTH_CA_CERT, "sign": EF.SIGN_CA_CERT}
MAX_TRIES: dict[Kind, int] = {"auth": 3, "sign": 5}
READ_NEEDS: dict[EF, Kind] = {EF.SIGN_CERT: "sign"}  # the signing certificate is private
_EF_IDS = frozenset(int(ef) for ef in EF)

_DIGITS = frozenset("0123456789")
_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class PinFormatError(CardError):
    """A PIN breaks the JPKI rules for its kind."""


class CertificateMismatch(CardError):
    """A certificate offered for installation does not belong on this card."""


def check_pin_format(kind: Kind, pin: str) -> None:
    """Auth PIN: 4 digits. Signing password: 6–16 of A–Z and 0–9 with at least one of each."""
    if kind == "auth":
        if len(pin) != 4 or not set(pin) <= _DIGITS:
            raise PinFormatError("the authentication PIN is 4 digits")
        return
    chars = set(pin)
    if not 6 <= len(pin) <= 16 or not chars <= _DIGITS | _UPPER:
        raise PinFormatError("the signing password is 6–16 upper-case letters and digits")
    if not chars & _DIGITS or not chars & _UPPER:
        raise PinFormatError("the signing password mixes letters and digits")


def _new_pin(kind: Kind, pin: str, tries_left: int | None = None) -> PinRecord:
    check_pin_format(kind, pin)
    salt = secrets.token_bytes(16)
    digest = hashlib.sha256(salt + pin.encode("ascii")).digest()
    tries = MAX_TRIES[kind] if tries_left is None else tries_left
    return PinRecord(salt=salt, digest=digest, tries_left=tries, max_tries=MAX_TRIES[kind])


def _pin_matches(record: PinRecord, candidate: bytes) -> bool:
    digest = hashlib.sha256(record.salt + candidate).digest()
    return secrets.compare_digest(digest, record.digest)


def _tlv(tag: bytes, value: bytes) -> bytes:
    """BER-TLV with a definite length."""
    n = len(value)
    if n < 0x80:
        return tag + bytes((n,)) + value
    size = (n.bit_length() + 7) // 8
    return tag + bytes((0x80 | size,)) + n.to_bytes(size) + value


def _raw_pkcs1_sign(key: rsa.RSAPrivateKey, payload: bytes) -> bytes:
    """PKCS#1 v1.5 type-1 padding of ``payload`` as received, then blinded RSA with CRT."""
    priv = key.private_numbers()
    n, e = priv.public_numbers.n, priv.public_numbers.e
    k = (n.bit_length() + 7) // 8
    m = int.from_bytes(b"\x00\x01" + b"\xff" * (k - 3 - len(payload)) + b"\x00" + payload)
    while True:  # blinding against timing attacks on the private exponent
        r = secrets.randbelow(n - 2) + 2
        if math.gcd(r, n) == 1:
            break
    c = m * pow(r, e, n) % n
    s1, s2 = pow(c, priv.dmp1, priv.p), pow(c, priv.dmq1, priv.q)
    s = (s2 + priv.q * (priv.iqmp * (s1 - s2) % priv.p)) * pow(r, -1, n) % n
    if pow(s, e, n) != m:  # never release a faulty CRT result
        raise CardError("RSA signature self-check failed")
    return s.to_bytes(k)


def sign_pkcs1(key: rsa.RSAPrivateKey, payload: bytes) -> bytes:
    """Sign ``payload`` (1..245 bytes) the way the card does: pad as received, then RSA."""
    if not 1 <= len(payload) <= key.key_size // 8 - 11:
        raise CardError("PKCS#1 v1.5 signing takes 1 to k - 11 bytes")
    if payload.startswith(SHA256_DIGEST_INFO_PREFIX) and len(payload) == 51:
        digest = payload[len(SHA256_DIGEST_INFO_PREFIX) :]
        # Byte-identical to type-1 padding of the DigestInfo + raw RSA (NOTES.md), and faster.
        return key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    return _raw_pkcs1_sign(key, payload)


def _status(sw: int) -> Response:
    return Response(b"", sw)


class JpkiApplet:
    """The JPKI-AP state machine over a card image; ``persist`` saves the image after changes."""

    def __init__(self, image: CardImage, persist: Callable[[], None]) -> None:
        if set(image.keys) != set(KINDS) or set(image.pins) != set(KINDS):
            raise ImageError("the card image lacks a key or a PIN")
        self._image = image
        self._persist = persist
        # The image is authenticated (AES-GCM), so the keys we generated need no re-validation.
        self._keys: dict[Kind, rsa.RSAPrivateKey] = {}
        for kind in KINDS:
            key = serialization.load_der_private_key(
                image.keys[kind], password=None, unsafe_skip_rsa_key_validation=True
            )
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ImageError("card keys must be RSA")
            self._keys[kind] = key
        self._selected = False
        self._current: EF | None = None
        self._verified: set[Kind] = set()
        self._handlers: dict[tuple[int, int], Callable[[Command], Response]] = {
            (0x00, 0xA4): self._select,
            (0x00, 0xB0): self._read_binary,
            (0x00, 0x20): self._verify,
            (0x00, 0x24): self._change_reference_data,
            (0x80, 0x2A): self._compute_signature,
            (0x00, 0x47): self._read_public_key,
        }

    def reset(self) -> None:
        """Power cycle: nothing selected, nothing verified."""
        self._selected, self._current = False, None
        self._verified.clear()

    def replace_key(self, kind: Kind, key: rsa.RSAPrivateKey) -> None:
        """Use ``key`` for ``kind`` from now on (the image already holds it); power cycle so
        that no verification or current EF survives the change."""
        self._keys[kind] = key
        self.reset()

    def public_key(self, kind: Kind) -> rsa.RSAPublicKey:
        """The public half of one card key."""
        return self._keys[kind].public_key()

    def process(self, apdu: bytes) -> bytes:
        """Answer one command APDU with response data + SW1 SW2."""
        try:
            command = Command.parse(apdu)
        except MalformedApdu:
            return _status(SW.WRONG_LENGTH).encode()
        handler = self._handlers.get((command.cla, command.ins))
        if handler is None:
            known_ins = any(ins == command.ins for _, ins in self._handlers)
            if known_ins or command.cla not in (0x00, 0x80):
                return _status(SW.CLA_NOT_SUPPORTED).encode()
            return _status(SW.INS_NOT_SUPPORTED).encode()
        try:
            return handler(command).encode()
        except ImageError:  # the new counter could not be stored: fail closed
            return _status(SW.MEMORY_FAILURE).encode()

    def _exists(self, ef: int) -> bool:
        return ef in PIN_EF.values() or ef in KEY_EF.values() or ef in self._image.files

    def _target(self, p2: int, table: dict[Kind, EF]) -> Kind | int:
        """The PIN/key kind P2 designates (``80`` = current EF), or the status word to answer."""
        if p2 == 0x80:
            if not self._selected or self._current is None:
                return SW.NO_CURRENT_EF
            ef: int = self._current
        elif p2 in {0x80 | e for e in table.values()}:
            if not self._selected:
                return SW.NOT_FOUND
            ef = p2 & 0x1F
        else:
            return SW.INCORRECT_P1P2
        for kind, table_ef in table.items():
            if table_ef == ef:
                return kind
        return SW.INCOMPATIBLE_FILE

    def _select(self, cmd: Command) -> Response:
        if cmd.p1 == 0x04:
            if cmd.data != AID:
                return _status(SW.NOT_FOUND)  # foreign applications are simply not here
            if cmd.p2 != 0x0C:
                return _status(SW.INCORRECT_P1P2)
            self._selected, self._current = True, None
            self._verified.clear()
            return _status(SW.OK)
        if cmd.p1 != 0x02 or cmd.p2 != 0x0C:
            return _status(SW.INCORRECT_P1P2)
        if len(cmd.data) != 2:
            return _status(SW.WRONG_LENGTH)
        ef = int.from_bytes(cmd.data)
        if not self._selected or ef not in _EF_IDS or not self._exists(ef):
            return _status(SW.NOT_FOUND)
        self._current = EF(ef)
        return _status(SW.OK)

    def _read_binary(self, cmd: Command) -> Response:
        if cmd.p1 & 0x80:
            return _status(SW.INCORRECT_P1P2)  # short EF identifiers are not supported
        if not self._selected or self._current is None:
            return _status(SW.NO_CURRENT_EF)
        content = self._image.files.get(self._current)
        if content is None:
            return _status(SW.INCOMPATIBLE_FILE)  # key and PIN EFs are never readable
        needs = READ_NEEDS.get(self._current)
        if needs is not None and needs not in self._verified:
            return _status(SW.SECURITY_STATUS_NOT_SATISFIED)
        if cmd.le is None:
            return _status(SW.WRONG_LENGTH)
        offset = (cmd.p1 << 8) | cmd.p2
        if offset >= len(content):
            return _status(SW.OFFSET_OUTSIDE_EF)
        chunk = content[offset : offset + cmd.le]
        return Response(chunk, SW.OK if len(chunk) == cmd.le else SW.END_OF_FILE)

    def _verify(self, cmd: Command) -> Response:
        if cmd.p1 != 0x00:
            return _status(SW.INCORRECT_P1P2)
        kind = self._target(cmd.p2, PIN_EF)
        if not isinstance(kind, str):
            return _status(kind)
        record = self._image.pins[kind]
        if not cmd.data:
            return _status(tries_left_sw(record.tries_left))
        if record.tries_left == 0:
            return _status(SW.AUTH_METHOD_BLOCKED)
        if len(cmd.data) > 16:
            return _status(SW.WRONG_LENGTH)
        # Spend the try and store it before comparing, so no crash can give it back.
        self._verified.discard(kind)
        record.tries_left -= 1
        self._persist()
        if not _pin_matches(record, cmd.data):
            return _status(tries_left_sw(record.tries_left))
        record.tries_left = record.max_tries
        self._persist()
        self._verified.add(kind)
        return _status(SW.OK)

    def _change_reference_data(self, cmd: Command) -> Response:
        if cmd.p1 != 0x01:
            return _status(SW.INCORRECT_P1P2)  # only "new PIN after VERIFY" is supported
        kind = self._target(cmd.p2, PIN_EF)
        if not isinstance(kind, str):
            return _status(kind)
        record = self._image.pins[kind]
        if record.tries_left == 0:
            return _status(SW.AUTH_METHOD_BLOCKED)
        if kind not in self._verified:
            return _status(SW.SECURITY_STATUS_NOT_SATISFIED)
        if not 1 <= len(cmd.data) <= 16:
            return _status(SW.WRONG_LENGTH)
        try:
            new = _new_pin(kind, cmd.data.decode("ascii"), record.tries_left)
        except (PinFormatError, UnicodeDecodeError):
            return _status(SW.WRONG_DATA)
        self._image.pins[kind] = new
        self._persist()
        return _status(SW.OK)

    def _compute_signature(self, cmd: Command) -> Response:
        if cmd.p1 != 0x00:
            return _status(SW.INCORRECT_P1P2)
        kind = self._target(cmd.p2, KEY_EF)
        if not isinstance(kind, str):
            return _status(kind)
        if kind not in self._verified:
            return _status(SW.SECURITY_STATUS_NOT_SATISFIED)
        if not 1 <= len(cmd.data) <= MAX_SIGN_INPUT or (cmd.le is not None and cmd.le < 256):
            return _status(SW.WRONG_LENGTH)
        return Response(sign_pkcs1(self._keys[kind], cmd.data), SW.OK)

    def _read_public_key(self, cmd: Command) -> Response:
        if cmd.p1 != 0x81 or cmd.p2 != 0x00:
            return _status(SW.INCORRECT_P1P2)
        kind = self._target(0x80, KEY_EF)
        if not isinstance(kind, str):
            return _status(kind)
        numbers = self.public_key(kind).public_numbers()
        modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8)
        exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8)
        body = _tlv(b"\x7f\x49", _tlv(b"\x81", modulus) + _tlv(b"\x82", exponent))
        if cmd.le is None or cmd.le < len(body):
            return _status(SW.WRONG_LENGTH)
        return Response(body, SW.OK)


def _lock(path: Path) -> IO[bytes]:
    handle = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115 - held while open
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise ImageError(f"card image {path} is in use by another reader") from exc
    return handle


class VirtualCard:
    """A JPKI card: the applet behind :meth:`transmit` plus the issuer's administrative calls.

    Private keys are generated here and never returned by any method; the issuer gets public
    keys, installs certificates, resets locked PINs and replaces keys (renewal, re-issue)
    without going through APDUs.
    """

    def __init__(self, path: Path, seal_key: bytes, image: CardImage, lock: IO[bytes]) -> None:
        self._path, self._seal_key, self._image, self._lockfile = path, seal_key, image, lock
        self._mutex = threading.Lock()
        self._applet = JpkiApplet(image, self._save)

    @classmethod
    def create(
        cls, path: Path, seal_key: bytes, *, auth_pin: str, signing_password: str
    ) -> VirtualCard:
        """Issue a new card: generate both RSA-2048 key pairs on it and set the two PINs."""
        check_pin_format("auth", auth_pin)
        check_pin_format("sign", signing_password)
        path = Path(path)
        if path.exists():
            raise ImageError(f"card image {path} already exists")
        keys: dict[str, bytes] = {}
        for kind in KINDS:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            keys[kind] = key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        image = CardImage(
            card_id=uuid.uuid4().hex,
            generation=0,
            keys=keys,
            pins={"auth": _new_pin("auth", auth_pin), "sign": _new_pin("sign", signing_password)},
            files={EF.TOKEN_INFO: TOKEN_INFO},
        )
        card = cls(path, seal_key, image, _lock(path))
        card._save()
        return card

    @classmethod
    def open(cls, path: Path, seal_key: bytes, *, min_generation: int = 0) -> VirtualCard:
        """Open a sealed image; refuse a wrong key, a tampered file or a rolled-back image."""
        path = Path(path)
        lock = _lock(path)
        try:
            image = read_image(path, seal_key)
            if image.generation < min_generation:
                raise RolledBackImage(
                    f"card image generation {image.generation} < expected {min_generation}"
                )
            return cls(path, seal_key, image, lock)
        except BaseException:
            lock.close()
            raise

    @property
    def card_id(self) -> str:
        return self._image.card_id

    @property
    def generation(self) -> int:
        """Grows with every write; keep the last value to detect rollback of the image."""
        return self._image.generation

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; get response data followed by SW1 SW2."""
        with self._mutex:
            return self._applet.process(apdu)

    def reset(self) -> None:
        """Power cycle the card (as when it is taken out of the reader)."""
        with self._mutex:
            self._applet.reset()

    def public_key(self, kind: Kind) -> rsa.RSAPublicKey:
        """The public key the CA certifies (also readable through ``00 47 81 00``)."""
        return self._applet.public_key(kind)

    def regenerate_key(self, kind: Kind) -> rsa.RSAPublicKey:
        """Counter maintenance (renewal, re-issue): a new RSA-2048 key pair for ``kind``.

        The new private key overwrites the old one in the image, so the old key is destroyed
        with the next write (it is never returned or kept); the kind's certificate and CA
        certificate are removed until :meth:`install_certificate` puts new ones in. The PIN and
        its retry counter stay as they are. Only the issuer holding the seal key can call this:
        no APDU generates or replaces a key. Returns the new public key for the CA to certify.
        """
        if kind not in KINDS:
            raise CardError(f"no such key: {kind!r}")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with self._mutex:
            self._image.keys[kind] = der
            self._image.files.pop(CERT_EF[kind], None)
            self._image.files.pop(CA_CERT_EF[kind], None)
            self._applet.replace_key(kind, key)
            self._save()
        return key.public_key()

    def install_certificate(self, kind: Kind, cert: bytes, ca_cert: bytes) -> None:
        """Write one DER certificate and its CA certificate (after :meth:`regenerate_key`); the
        certificate must hold this card's ``kind`` key and be issued by ``ca_cert``."""
        if kind not in KINDS:
            raise CardError(f"no such key: {kind!r}")
        self._check_certificate(kind, cert, ca_cert)
        with self._mutex:
            self._image.files[CERT_EF[kind]] = cert
            self._image.files[CA_CERT_EF[kind]] = ca_cert
            self._save()

    def _check_certificate(self, kind: Kind, leaf_der: bytes, ca_der: bytes) -> None:
        try:
            leaf = x509.load_der_x509_certificate(leaf_der)
            ca = x509.load_der_x509_certificate(ca_der)
            leaf.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise CertificateMismatch(f"{kind} certificate is not issued by its CA") from exc
        if leaf.public_key() != self.public_key(kind):
            raise CertificateMismatch(f"{kind} certificate is not for this card's key")

    def install_certificates(
        self,
        *,
        auth_cert: bytes,
        auth_ca_cert: bytes,
        sign_cert: bytes | None = None,
        sign_ca_cert: bytes | None = None,
    ) -> None:
        """Write DER certificates at enrolment; each must hold this card's key and chain to its CA.

        The signing pair is optional (no signing certificate under age 15).
        """
        if (sign_cert is None) != (sign_ca_cert is None):
            raise CertificateMismatch("give both the signing certificate and its CA, or neither")
        pairs: dict[Kind, tuple[bytes, bytes]] = {"auth": (auth_cert, auth_ca_cert)}
        if sign_cert is not None and sign_ca_cert is not None:
            pairs["sign"] = (sign_cert, sign_ca_cert)
        for kind, (leaf_der, ca_der) in pairs.items():
            self._check_certificate(kind, leaf_der, ca_der)
        with self._mutex:
            for kind, (leaf_der, ca_der) in pairs.items():
                self._image.files[CERT_EF[kind]] = leaf_der
                self._image.files[CA_CERT_EF[kind]] = ca_der
            self._save()

    def reset_pin(self, kind: Kind, new_pin: str) -> None:
        """Set a new PIN and full tries; for the counter, after identity checks (not an APDU)."""
        record = _new_pin(kind, new_pin)
        with self._mutex:
            self._image.pins[kind] = record
            self._applet.reset()
            self._save()

    def close(self) -> None:
        """Release the image lock; the card cannot be used afterwards."""
        self._lockfile.close()

    def __enter__(self) -> VirtualCard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VirtualCard({str(self._path)!r}, card_id={self.card_id!r})"

    def _save(self) -> None:
        if self._lockfile.closed:
            raise ImageError("the card is closed")
        self._image.generation += 1
        write_image(self._path, self._image, self._seal_key)
