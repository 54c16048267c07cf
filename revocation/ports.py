"""What the revocation service needs from outside, as ports the composition root implements.

``revocation`` imports neither ``ca`` nor ``jukibridge`` (DESIGN.md §2): ``web`` adapts the
national server's notice feed to ``NoticeFeed``, the CA's issued store to ``CertificateDirectory``
and the CA's key store to ``CrlSigners`` / ``OcspResponders``. Everything crossing a port is a
plain value keyed by stable identifiers (resident code, card id, ``(issuer key id, serial)``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from pki.profile import CertKind

# -- the notice feed -------------------------------------------------------------------------------


class NoticeKind(Enum):
    """The kinds of revocation notice (異動等失効情報) the national server emits."""

    BASIC_FOUR_CHANGED = "basic_four_changed"
    RECORD_REMOVED = "record_removed"
    RESIDENT_CODE_CHANGED = "resident_code_changed"


@dataclass(frozen=True)
class Notice:
    """One revocation notice as this package sees it.

    ``created_at`` is when the notice entered the feed: never earlier than the commit of the
    change at the counter, which is the cutoff the consumer needs (see ``service``). A feed that
    knows the commit instant itself may pass that instead: it is the tighter, exact cutoff.
    """

    seq: int
    notice_id: str
    kind: NoticeKind
    resident_code: str
    previous_resident_code: str | None
    municipality_code: str
    change_reason: str
    effective_on: date
    created_at: datetime


class NoticeFeed(Protocol):
    """The national server's ordered feed of notices."""

    def read(self, after_seq: int, limit: int) -> list[Notice]:
        """Notices with ``seq > after_seq``, in ``seq`` order, at most ``limit``."""
        ...


# -- the CA's issued store and generations --------------------------------------------------------


@dataclass(frozen=True)
class CertificateRecord:
    """An issued certificate, as the CA's append-only store records it.

    ``kind`` is the CA's label: ``sign`` or ``auth`` for a holder's certificates (the values of
    ``CertKind``), ``ocsp`` for a delegated responder, ``link`` for a rollover link.
    ``partition`` is the issuing municipality (None for CA-side certificates).
    """

    issuer_key_id: str
    serial: int
    kind: str
    resident_code: str | None
    card_id: str | None
    partition: str | None
    not_before: datetime
    not_after: datetime


@dataclass(frozen=True)
class Issuer:
    """One CA generation: ``name`` as in URLs (``sign-1``), its key id (SKI, hex), certificate."""

    name: str
    kind: CertKind
    key_id: str
    certificate: x509.Certificate


class CertificateDirectory(Protocol):
    """Read-only view of the CA's issued certificates and generations."""

    def issuers(self) -> list[Issuer]:
        """Every CA generation of both CAs."""
        ...

    def by_holder(self, resident_codes: Collection[str]) -> list[CertificateRecord]:
        """Every certificate ever issued to any of these resident codes (expired ones too)."""
        ...

    def by_card(self, card_id: str) -> list[CertificateRecord]:
        """Every certificate issued onto the card ``card_id``."""
        ...

    def find(self, issuer_key_id: str, serial: int) -> CertificateRecord | None:
        """The certificate ``(issuer_key_id, serial)``, or None if it was never issued."""
        ...

    def by_issuer(self, issuer_key_id: str) -> Iterable[CertificateRecord]:
        """Every certificate a generation issued (may be streamed)."""
        ...


# -- signing ---------------------------------------------------------------------------------------


class CrlSigners(Protocol):
    """Signs CRLs with a generation's CA key, without handing the key over."""

    def crl_signer(self, issuer_key_id: str) -> rsa.RSAPrivateKey:
        """An object whose ``sign()`` signs with the CA key ``issuer_key_id`` (e.g. an HSM)."""
        ...


@dataclass(frozen=True)
class Responder:
    """A delegated OCSP responder of one generation: its certificate and its signer."""

    certificate: x509.Certificate
    signer: rsa.RSAPrivateKey


class OcspResponders(Protocol):
    """The delegated responder of each generation (EKU OCSPSigning, issued by that key)."""

    def responder(self, issuer_key_id: str) -> Responder | None:
        """The current responder of generation ``issuer_key_id``, or None if it has none."""
        ...
