"""The virtual IC card: the JPKI application behind APDUs, in a sealed image (DESIGN.md §5).

- :mod:`pki.card.apdu` — command/response APDUs, status words, the error hierarchy.
- :mod:`pki.card.image` — the sealed image file and its threat model.
- :mod:`pki.card.jpki_app` — the JPKI-AP state machine and :class:`VirtualCard` (issuer calls:
  certificates, PIN reset, key replacement for renewal and re-issue).
- :mod:`pki.card.client` — :class:`Card`, the Python API built only on ``transmit``.
"""

from __future__ import annotations

from pki.card.apdu import (
    SW,
    CardError,
    FileNotFound,
    PinLocked,
    SecurityStatusNotSatisfied,
    StatusError,
    WrongPin,
)
from pki.card.client import Card, Reader
from pki.card.image import ImageError, RolledBackImage, TamperedImage, WrongSealKey
from pki.card.jpki_app import (
    AID,
    ATR,
    KINDS,
    CertificateMismatch,
    JpkiApplet,
    Kind,
    PinFormatError,
    VirtualCard,
    check_pin_format,
)

__all__ = [
    "AID",
    "ATR",
    "KINDS",
    "SW",
    "Card",
    "CardError",
    "CertificateMismatch",
    "FileNotFound",
    "ImageError",
    "JpkiApplet",
    "Kind",
    "PinFormatError",
    "PinLocked",
    "Reader",
    "RolledBackImage",
    "SecurityStatusNotSatisfied",
    "StatusError",
    "TamperedImage",
    "VirtualCard",
    "WrongPin",
    "WrongSealKey",
    "check_pin_format",
]
