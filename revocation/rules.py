"""The one table from a cause of revocation to what is revoked and the RFC 5280 reason.

Every revocation in the package goes through ``RULES``; nothing else picks a reason. A cause
whose rule has no reason revokes nothing (a resident-code change only re-links the holder's
certificates to the new code).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

from cryptography.x509 import ReasonFlags

from pki.profile import CertKind
from revocation.ports import NoticeKind


class Cause(Enum):
    """Why a certificate is revoked (stored with every revocation)."""

    BASIC_FOUR_CHANGED = "basic_four_changed"  # notice: name, sex, birth date or address
    RECORD_REMOVED = "record_removed"  # notice: death, emigration, ex-officio removal
    RESIDENT_CODE_CHANGED = "resident_code_changed"  # notice: a new resident code
    HOLDER_REQUEST = "holder_request"  # the holder asks, no reason given
    KEY_COMPROMISE = "key_compromise"  # the holder reports a leaked key
    CARD_LOST = "card_lost"  # the holder reports the card lost
    RENEWAL = "renewal"  # a new certificate replaces the old one
    CA_COMPROMISE = "ca_compromise"  # a CA generation's key is compromised


class Scope(Enum):
    """Which certificates a cause reaches."""

    SIGNING = "the holder's signing certificates"
    BOTH = "the holder's signing and authentication certificates"
    CHOSEN = "the certificates the request names"
    CARD = "both certificates on the card"
    REPLACED = "the certificates of the same holder and kind that a new one replaces"
    GENERATION = "every certificate of the CA generation"
    NONE = "none: the holder's certificates are re-linked to the new resident code"


@dataclass(frozen=True)
class Rule:
    scope: Scope
    reason: ReasonFlags | None  # None: nothing is revoked


_SIGNING = frozenset({CertKind.SIGNING.value})
_HOLDER = frozenset({CertKind.SIGNING.value, CertKind.AUTHENTICATION.value})

RULES: Final = MappingProxyType({
    Cause.BASIC_FOUR_CHANGED: Rule(Scope.SIGNING, ReasonFlags.affiliation_changed),
    Cause.RECORD_REMOVED: Rule(Scope.BOTH, ReasonFlags.cessation_of_operation),
    Cause.RESIDENT_CODE_CHANGED: Rule(Scope.NONE, None),
    Cause.HOLDER_REQUEST: Rule(Scope.CHOSEN, ReasonFlags.unspecified),
    Cause.KEY_COMPROMISE: Rule(Scope.CHOSEN, ReasonFlags.key_compromise),
    # As in JPKI, a hold is never released: the card is gone, a new card gets new certificates.
    Cause.CARD_LOST: Rule(Scope.CARD, ReasonFlags.certificate_hold),
    Cause.RENEWAL: Rule(Scope.REPLACED, ReasonFlags.superseded),
    Cause.CA_COMPROMISE: Rule(Scope.GENERATION, ReasonFlags.ca_compromise),
})

NOTICE_CAUSES: Final = MappingProxyType({
    NoticeKind.BASIC_FOUR_CHANGED: Cause.BASIC_FOUR_CHANGED,
    NoticeKind.RECORD_REMOVED: Cause.RECORD_REMOVED,
    NoticeKind.RESIDENT_CODE_CHANGED: Cause.RESIDENT_CODE_CHANGED,
})


def rule_for(cause: Cause) -> Rule:
    return RULES[cause]


def holder_kinds(scope: Scope) -> frozenset[str]:
    """The certificate kinds (``sign``, ``auth``) a holder-wide scope reaches."""
    if scope is Scope.SIGNING:
        return _SIGNING
    if scope in (Scope.BOTH, Scope.CARD):
        return _HOLDER
    return frozenset()
