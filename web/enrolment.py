"""Card enrolment at the counter: register → card → CA → card → register.

1. the operator (clerk or supervisor of the municipality) finds the resident; the record is read
   at this moment (audited) and must be active;
2. a new card is made in a temporary file: the resident's PINs are set and the card generates
   both key pairs inside itself;
3. the CA issues the certificates (lint, intended, signed, stored) for the card's public keys,
   with the basic four read in step 1;
4. the certificates are written to the card, the register records the card, its serials and the
   identity document checked (audited), and only then does the card file take its final name.

A failure at any step leaves no card: the temporary image (and with it the private keys) is
deleted, so certificates issued in step 3 for it can never be used; the CA's intended and issued
stores keep them, linked to the card id, for the revocation service.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ca.enrolment import CertificatePair, Holder, issue_pair
from jukibridge import cards
from jukibridge.records import RecordState, Role
from pki.card import VirtualCard
from web import secrets
from web.services import Services


@dataclass(frozen=True)
class Enrolment:
    card_id: str
    path: Path
    resident_code: str
    pair: CertificatePair


def holder_of(services: Services, resident_code: str, *, operator: str,
              municipality_code: str | None = None) -> tuple[Holder, int]:
    """The holder as the register says now, and the person id."""
    register = services.register(municipality_code)
    record = register.record(resident_code, operator=operator)
    prefecture = register.address_prefix.removesuffix(register.municipality_name)
    holder = Holder(resident_code=record.resident_code, name=record.name, sex=int(record.sex),
                    birth_date=record.birth_date, address=record.address,
                    municipality_code=register.municipality_code, prefecture=prefecture,
                    municipality=register.municipality_name,
                    active=record.state is RecordState.ACTIVE)
    return holder, record.person_id


def enrol(services: Services, *, operator: str, resident_code: str, identity_document: str,
          auth_pin: str, signing_password: str, out: Path,
          municipality_code: str | None = None) -> Enrolment:
    """Issue a card to a resident; see the module docstring for the steps."""
    register = services.register(municipality_code)
    register.check_operator(operator, Role.CLERK, Role.SUPERVISOR)
    holder, person_id = holder_of(services, resident_code, operator=operator,
                                  municipality_code=municipality_code)
    if out.exists():
        raise FileExistsError(f"{out} exists: a card is never overwritten")
    seal_key = secrets.card_seal_key(services.settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.enrolling")
    card = VirtualCard.create(temporary, seal_key, auth_pin=auth_pin,
                              signing_password=signing_password)
    try:
        pair = issue_pair(services.ca, holder, card_id=card.card_id,
                          signing_key=card.public_key("sign"), auth_key=card.public_key("auth"),
                          issued_at=services.clock.now(), rule=services.validity_rule)
        signing = pair.signing
        card.install_certificates(
            auth_cert=_der(pair.authentication.certificate),
            auth_ca_cert=_der(pair.authentication.issuer.certificate),
            sign_cert=_der(signing.certificate) if signing else None,
            sign_ca_cert=_der(signing.issuer.certificate) if signing else None)
        card.close()
        with services.sessions() as session, session.begin():
            cards.record_card(session, services.clock, card_id=card.card_id,
                              person_id=person_id,
                              signing_serial=signing.serial if signing else None,
                              auth_serial=pair.authentication.serial,
                              identity_document=identity_document, operator=operator)
        os.replace(temporary, out)
    except BaseException:
        card.close()
        temporary.unlink(missing_ok=True)
        raise
    finally:
        temporary.with_name(temporary.name + ".lock").unlink(missing_ok=True)
    return Enrolment(card_id=card.card_id, path=out, resident_code=holder.resident_code,
                     pair=pair)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def reset_pin(services: Services, *, operator: str, card_path: Path, kind: str, new_pin: str,
              identity_document: str, municipality_code: str | None = None) -> str:
    """Reset a (locked or forgotten) PIN at the counter after checking the holder's identity;
    returns the card id. Only an active card recorded by this municipality is reset."""
    register = services.register(municipality_code)
    register.check_operator(operator, Role.CLERK, Role.SUPERVISOR)
    seal_key = secrets.card_seal_key(services.settings)
    with VirtualCard.open(card_path, seal_key) as card:
        with services.sessions() as session, session.begin():
            record = cards.require_active(session, card.card_id, register.municipality_code)
            card.reset_pin("sign" if kind == "sign" else "auth", new_pin)
            cards.log_counter_action(session, services.clock, card_id=record.card_id,
                                     action=f"card.pin_reset.{kind}", operator=operator,
                                     municipality_code=record.municipality_code,
                                     identity_document=identity_document)
        return card.card_id
