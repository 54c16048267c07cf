"""Who a logged-in resident is: their current resident code, former codes, name, certificates.

The identity info comes from the national server's store (the one that answers provisions and
keeps a person's former resident codes); the certificates from the CA's issued store, judged by
``web.certificate_check``. A certificate names the code it was issued to, which may be a former
one: the person is found under either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import select

from jukibridge.tier_tables import NationalIdentity
from pki import basic_four
from pki.profile import CertKind
from web.certificate_check import CertificateCheck, check
from web.services import Services


@dataclass(frozen=True)
class Resident:
    resident_code: str  # the current code (the national server's)
    codes: tuple[str, ...]  # the current code and every former one
    name: str | None  # None: the national server does not know the person (yet)


def find(services: Services, resident_code: str) -> Resident:
    """The person with this current or former resident code."""
    with services.sessions() as session:
        row = session.scalars(select(NationalIdentity).where(
            NationalIdentity.resident_code == resident_code)).first()
        if row is None:
            row = session.scalars(select(NationalIdentity).where(
                NationalIdentity.former_codes.contains(f'"{resident_code}"'))).first()
        if row is None:
            return Resident(resident_code, (resident_code,), None)
        former = [str(code) for code in json.loads(row.former_codes or "[]")]
        return Resident(row.resident_code, (row.resident_code, *former), row.name)


def certificates(services: Services, resident: Resident) -> list[CertificateCheck]:
    """The resident's signing and authentication certificates, newest first, each judged."""
    found: list[x509.Certificate] = []
    for code in resident.codes:
        found += services.ca.issued(resident_code=code)
    checks = [check(services, certificate) for certificate in found]
    holder = [c for c in checks if c.kind in (CertKind.SIGNING.value,
                                              CertKind.AUTHENTICATION.value)]
    return sorted(holder, key=lambda c: (c.not_before, c.kind or ""), reverse=True)


def name_from_certificates(checks: list[CertificateCheck]) -> str | None:
    """The name in the newest signing certificate (when the national store has no record)."""
    for checked in checks:
        if checked.kind == CertKind.SIGNING.value:
            try:
                return basic_four.decode(checked.certificate).name
            except basic_four.BasicFourError:
                continue
    return None
