"""The sealed card image: the whole state of one virtual card in one encrypted, authenticated file.

A physical card keeps its keys, PINs and retry counters in tamper-resistant memory. A virtual card
keeps them in a file, so the file is sealed with AES-256-GCM under a **seal key** that is not in
the file: a key-encryption key is derived from it with HKDF-SHA256 and a fresh random salt on
every write, so no (key, nonce) pair is ever reused. The seal key belongs to whoever plays the card
reader (the instance's card service, from the environment or the instance folder); it is a
parameter here. It must be at least 32 random bytes: derive it with a password KDF first if a
human types it.

File layout (all of the header is authenticated as associated data)::

    "JPKICARD" | version (1) | key id (8) | salt (16) | nonce (12) | AES-GCM ciphertext + tag

The key id is an HKDF output of the seal key, only so that "wrong seal key" and "tampered file"
give different errors. The plaintext is JSON: card id, a generation counter, the private keys
(PKCS#8 DER), salted PIN digests with their retry counters, and the readable EFs.

Threat model — what sealing protects:

- A copied or stolen image file is useless without the seal key: it reveals neither the private
  keys nor the PINs, and offline guessing of a PIN needs the seal key first.
- Integrity: any change to the file (a retry counter set back to 3, a swapped certificate, a
  flipped bit) makes it fail to open. Counters change only through the card's own logic.
- Key replacement (renewal, re-issue at the counter) is an issuer operation on the unsealed
  image (``VirtualCard.regenerate_key``): it needs the seal key, i.e. the municipality's
  issuing terminal. The card's APDU interface, which the resident's software and the vpcd
  reader use, can neither generate nor replace a key. The new key overwrites the old one in the
  image, and the next write replaces the whole file, so the current image no longer holds the
  old key.
- Crash safety: every write goes to a temporary file, is fsynced and renamed over the image, so a
  crash leaves the old or the new image, never a torn one. The card writes the decremented counter
  *before* it compares a PIN (as real cards do), so killing the process right after a wrong PIN
  cannot give the try back.

What it cannot protect:

- A process that holds the seal key can unseal the image and read the keys and PIN digests (a
  4-digit PIN falls to brute force then). "Keys never leave the card" is an API contract inside
  such a process, not a hardware boundary.
- Destruction of a replaced key is only as good as the file system: an older copy of the image
  (a backup, a snapshot, unreclaimed disk blocks) still holds the old key, sealed. Whoever also
  has the seal key can recover it. Its certificate is no longer good (a renewal revokes it as
  superseded; a re-issue follows a revocation or the expiry), so it signs nothing a verifier
  accepts. Python cannot wipe the old key from memory either.
- Rollback: replacing the file by an older image sealed with the same key (with more tries left)
  is not detectable from the file alone. The image carries a ``generation`` that grows with every
  write; keeping the last value elsewhere (the card registry) and passing it as ``min_generation``
  when opening detects it. Swapping in another card's image sealed with the same key is likewise
  caught only by checking ``card_id``.
- Two writers: the card takes an exclusive lock (``<image>.lock``) while open, so one image is in
  one "reader" at a time, as a physical card is.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pki.card.apdu import CardError

MAGIC = b"JPKICARD"
VERSION = 1
MIN_SEAL_KEY_BYTES = 32
_KEY_ID_LEN, _SALT_LEN, _NONCE_LEN = 8, 16, 12
_HEADER_LEN = len(MAGIC) + 1 + _KEY_ID_LEN + _SALT_LEN + _NONCE_LEN


class ImageError(CardError):
    """The card image cannot be opened, read or written."""


class WrongSealKey(ImageError):
    """The image was sealed under another seal key."""


class TamperedImage(ImageError):
    """The image fails authentication: it was modified or is not a card image."""


class RolledBackImage(ImageError):
    """The image is older than the last generation known for this card."""


@dataclass
class PinRecord:
    """One PIN: a salted SHA-256 digest (never the PIN itself) and its retry counter."""

    salt: bytes
    digest: bytes
    tries_left: int
    max_tries: int


@dataclass
class CardImage:
    """The plaintext state of one card. Keys map a kind ("auth"/"sign") to PKCS#8 DER."""

    card_id: str
    generation: int
    keys: dict[str, bytes]
    pins: dict[str, PinRecord]
    files: dict[int, bytes]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def encode_image(image: CardImage) -> bytes:
    """Serialise the plaintext state (JSON); only ever written to disk sealed."""
    doc = {
        "card_id": image.card_id,
        "generation": image.generation,
        "keys": {kind: _b64(der) for kind, der in image.keys.items()},
        "pins": {
            kind: {
                "salt": _b64(pin.salt),
                "digest": _b64(pin.digest),
                "tries_left": pin.tries_left,
                "max_tries": pin.max_tries,
            }
            for kind, pin in image.pins.items()
        },
        "files": {f"{ef:04X}": _b64(content) for ef, content in image.files.items()},
    }
    return json.dumps(doc, sort_keys=True).encode("utf-8")


def decode_image(payload: bytes) -> CardImage:
    """Parse the plaintext state written by :func:`encode_image`."""
    try:
        doc: dict[str, Any] = json.loads(payload)
        return CardImage(
            card_id=str(doc["card_id"]),
            generation=int(doc["generation"]),
            keys={str(kind): _unb64(der) for kind, der in doc["keys"].items()},
            pins={
                str(kind): PinRecord(
                    salt=_unb64(pin["salt"]),
                    digest=_unb64(pin["digest"]),
                    tries_left=int(pin["tries_left"]),
                    max_tries=int(pin["max_tries"]),
                )
                for kind, pin in doc["pins"].items()
            },
            files={int(ef, 16): _unb64(content) for ef, content in doc["files"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ImageError("the card image content is malformed") from exc


def _check_seal_key(seal_key: bytes) -> None:
    if not isinstance(seal_key, bytes) or len(seal_key) < MIN_SEAL_KEY_BYTES:
        raise ImageError(f"the seal key must be at least {MIN_SEAL_KEY_BYTES} bytes")


def _hkdf(seal_key: bytes, length: int, salt: bytes | None, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(seal_key)


def _key_id(seal_key: bytes) -> bytes:
    return _hkdf(seal_key, _KEY_ID_LEN, None, b"jpki card image v1 key id")


def seal(payload: bytes, seal_key: bytes) -> bytes:
    """Encrypt and authenticate ``payload`` under a fresh salt and nonce."""
    _check_seal_key(seal_key)
    salt, nonce = secrets.token_bytes(_SALT_LEN), secrets.token_bytes(_NONCE_LEN)
    header = MAGIC + bytes((VERSION,)) + _key_id(seal_key) + salt + nonce
    kek = _hkdf(seal_key, 32, salt, b"jpki card image v1 kek")
    return header + AESGCM(kek).encrypt(nonce, payload, header)


def unseal(blob: bytes, seal_key: bytes) -> bytes:
    """Check and decrypt a sealed image; raise rather than return anything unauthenticated."""
    _check_seal_key(seal_key)
    if len(blob) < _HEADER_LEN + 16 or not blob.startswith(MAGIC):
        raise TamperedImage("not a card image")
    if blob[len(MAGIC)] != VERSION:
        raise ImageError(f"unsupported card image version {blob[len(MAGIC)]}")
    start = len(MAGIC) + 1
    key_id = blob[start : start + _KEY_ID_LEN]
    salt = blob[start + _KEY_ID_LEN : start + _KEY_ID_LEN + _SALT_LEN]
    nonce = blob[_HEADER_LEN - _NONCE_LEN : _HEADER_LEN]
    if not secrets.compare_digest(key_id, _key_id(seal_key)):
        raise WrongSealKey("the card image was sealed under another seal key")
    kek = _hkdf(seal_key, 32, salt, b"jpki card image v1 kek")
    try:
        return AESGCM(kek).decrypt(nonce, blob[_HEADER_LEN:], blob[:_HEADER_LEN])
    except InvalidTag as exc:
        raise TamperedImage("the card image fails authentication (modified?)") from exc


def read_image(path: Path, seal_key: bytes) -> CardImage:
    """Read, unseal and parse the image at ``path``."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read card image {path}: {exc.strerror}") from exc
    return decode_image(unseal(blob, seal_key))


def write_image(path: Path, image: CardImage, seal_key: bytes) -> None:
    """Seal and write atomically: temp file in the same folder, fsync, rename, fsync folder."""
    blob = seal(encode_image(image), seal_key)
    folder = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise ImageError(f"cannot write card image {path}: {exc.strerror}") from exc
