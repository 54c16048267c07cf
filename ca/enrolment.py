"""Enrolment policy: who gets which certificate, with what content and validity.

The register is not reachable from here (``ca`` never imports ``jukibridge``): the composition
root reads the holder from the register at the moment of issuance and hands a ``Holder``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import rsa

from ca.authority import CertificateAuthority, Issued, Request
from ca.errors import NotEligible
from pki import profile
from pki.basic_four import BasicFour
from pki.eras import PartialDate
from pki.profile import CertificateProfile, CertKind
from pki.validity import (
    ValidityRule,
    authentication_validity,
    jst_day,
    may_hold_signing_certificate,
    signing_validity,
)

NAME_SEPARATOR = "\u3000"


@dataclass(frozen=True)
class Holder:
    """What the CA needs to know of a resident, read from the register at issuance."""

    resident_code: str
    name: str  # family and given name separated by U+3000
    sex: int
    birth_date: PartialDate
    address: str  # from the prefecture, no postcode
    municipality_code: str  # the issuing municipality: the CRL partition
    prefecture: str
    municipality: str
    active: bool


@dataclass(frozen=True)
class CertificatePair:
    """What one enrolment issued: no signing certificate for a holder under 15."""

    signing: Issued | None
    authentication: Issued


def check_eligible(holder: Holder, on: datetime) -> bool:
    """Raise ``NotEligible`` for a removed record; returns whether a signing certificate may be
    issued (not under 15)."""
    if not holder.active:
        raise NotEligible("the resident's record is removed: no certificate",
                          resident_code=holder.resident_code)
    return may_hold_signing_certificate(holder.birth_date, jst_day(on))


def basic_four_of(holder: Holder) -> BasicFour:
    family, _, given = holder.name.partition(NAME_SEPARATOR)
    return BasicFour.from_register(family, given, holder.sex, holder.birth_date, holder.address)


def signing_request(ca: CertificateAuthority, holder: Holder, *, card_id: str,
                    key: rsa.RSAPublicKey, issued_at: datetime,
                    rule: ValidityRule = ValidityRule.THREE_YEARS) -> Request:
    """What the CA needs to issue a signing certificate with the holder's basic four for
    ``key`` on card ``card_id``; ``NotEligible`` for a removed record or under 15."""
    if not check_eligible(holder, issued_at):
        raise NotEligible("no signing certificate for a holder under 15",
                          resident_code=holder.resident_code)
    partition = holder.municipality_code
    basic_four = basic_four_of(holder)
    validity = signing_validity(issued_at, holder.birth_date, rule)
    return Request(
        lambda issuer, serial: profile.signing_certificate(
            issuer.certificate, key, serial=serial,
            not_before=validity.not_before,
            not_after=min(validity.not_after, issuer.certificate.not_valid_after_utc),
            prefecture=holder.prefecture, municipality=holder.municipality,
            issuance_id=secrets.token_hex(8), basic_four=basic_four,
            endpoints=ca.endpoints(issuer, partition)),
        CertificateProfile.SIGNING, CertKind.SIGNING, cert_kind="sign",
        resident_code=holder.resident_code, card_id=card_id, partition=partition)


def authentication_request(ca: CertificateAuthority, holder: Holder, *, card_id: str,
                           key: rsa.RSAPublicKey, issued_at: datetime,
                           rule: ValidityRule = ValidityRule.THREE_YEARS) -> Request:
    """What the CA needs to issue an authentication certificate for ``key`` on card
    ``card_id``; ``NotEligible`` for a removed record."""
    check_eligible(holder, issued_at)
    partition = holder.municipality_code
    validity = authentication_validity(issued_at, holder.birth_date, rule)
    return Request(
        lambda issuer, serial: profile.authentication_certificate(
            issuer.certificate, key, serial=serial, not_before=validity.not_before,
            not_after=min(validity.not_after, issuer.certificate.not_valid_after_utc),
            subject_id=secrets.token_hex(8), endpoints=ca.endpoints(issuer, partition)),
        CertificateProfile.AUTHENTICATION, CertKind.AUTHENTICATION, cert_kind="auth",
        resident_code=holder.resident_code, card_id=card_id, partition=partition)


def issue_pair(ca: CertificateAuthority, holder: Holder, *, card_id: str,
               signing_key: rsa.RSAPublicKey | None, auth_key: rsa.RSAPublicKey,
               issued_at: datetime, rule: ValidityRule = ValidityRule.THREE_YEARS
               ) -> CertificatePair:
    """Issue the authentication certificate and, if the holder may have one, the signing
    certificate, for keys generated on the card ``card_id``: both or neither."""
    requests = []
    if check_eligible(holder, issued_at):
        if signing_key is None:
            raise NotEligible("the card has no signing key")
        requests.append(signing_request(ca, holder, card_id=card_id, key=signing_key,
                                        issued_at=issued_at, rule=rule))
    requests.append(authentication_request(ca, holder, card_id=card_id, key=auth_key,
                                           issued_at=issued_at, rule=rule))
    *signing, authentication = ca.issue_together(requests)
    return CertificatePair(signing=signing[0] if signing else None,
                           authentication=authentication)
