"""Signature formats made with the card: e-Tax-style XML-DSig, detached CMS, PAdES (DESIGN.md §6).

Every format signs through a :data:`DigestSigner`: a callable that takes a SHA-256 digest and
returns the PKCS#1 v1.5 signature over its DigestInfo. :func:`card_signer` makes one that sends
the digest to the card (the private key never leaves it); :func:`key_signer` makes one from a
key in memory (tests, interop, and service keys behind their own store).

- :mod:`pki.signing.xml` — the submission format and :func:`~pki.signing.xml.sign_xml`;
- :mod:`pki.signing.cms` — :func:`~pki.signing.cms.sign_cms`, a detached CMS signature;
- :mod:`pki.signing.pdf` — :func:`~pki.signing.pdf.sign_pdf`, PAdES baseline B through pyhanko.

The CMS and PDF signers run pyhanko's coroutines with ``asyncio.run``: call them from plain code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from pki.card import Card, Kind

DigestSigner = Callable[[bytes], bytes]
"""``sign(sha256_digest) -> signature``: RSASSA-PKCS1-v1_5 with SHA-256 over a given digest."""

SHA256_SIZE = 32


class SigningError(Exception):
    """A signature could not be made (wrong digest, a signer that misbehaves, a bad certificate)."""


class MalformedDocument(ValueError):
    """The input is not an acceptable document: not parseable, too large, or the wrong shape.

    Raised by the signers and by the verifiers before any signature is judged; the message says
    why in one line, so that a caller can return it as a 4xx problem.
    """


def card_signer(card: Card, password: str, kind: Kind = "sign") -> DigestSigner:
    """Sign on the card: VERIFY ``password``, then the card's PKCS#1 v1.5 signing command.

    Card errors (:class:`~pki.card.WrongPin`, :class:`~pki.card.PinLocked`, …) propagate.
    """

    def sign(digest: bytes) -> bytes:
        return card.sign(kind, _checked(digest), password)

    return sign


def key_signer(key: rsa.RSAPrivateKey) -> DigestSigner:
    """Sign with a key object (any ``RSAPrivateKey``, including an HSM-backed subclass)."""

    def sign(digest: bytes) -> bytes:
        return key.sign(_checked(digest), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))

    return sign


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _checked(digest: bytes) -> bytes:
    if len(digest) != SHA256_SIZE:
        raise SigningError("a digest signer takes a 32-byte SHA-256 digest")
    return digest


def check_signature(signature: bytes, digest: bytes, public_key: rsa.RSAPublicKey) -> None:
    """Check a signer's output against the certificate's key (catches a card with another key)."""
    try:
        public_key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    except Exception as exc:  # InvalidSignature, or a malformed value
        raise SigningError("the signer's signature does not match the certificate's key") from exc
