"""The register's record of cards: which resident holds which card and certificates.

An enrolment is recorded only once the card holds its certificates; a lost or returned card
keeps its row with the new state. A renewal or re-issue replaces the serials of an active card
(the certificates themselves stay in the CA's store).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from jukibridge import audit
from jukibridge.errors import Conflict, InvalidInput, NotFound
from jukibridge.records import RecordState
from jukibridge.tables import CardRow, Person
from pki.clock import Clock
from pki.eras import PartialDate
from pki.validity import may_hold_signing_certificate

STATES = ("active", "lost", "returned")
SERIAL_COLUMNS = {"sign": "signing_serial", "auth": "auth_serial"}
REPLACEMENTS = ("card.renew", "card.reissue")  # the audit actions of a certificate replacement


@dataclass(frozen=True)
class CardRecord:
    card_id: str
    resident_code: str
    municipality_code: str
    signing_serial: str | None
    auth_serial: str
    identity_document: str
    issued_at: datetime
    state: str


def _record(row: CardRow) -> CardRecord:
    return CardRecord(card_id=row.card_id, resident_code=row.resident_code,
                      municipality_code=row.municipality_code,
                      signing_serial=row.signing_serial, auth_serial=row.auth_serial,
                      identity_document=row.identity_document, issued_at=row.issued_at,
                      state=row.state)


def record_card(session: Session, clock: Clock, *, card_id: str, person_id: int,
                signing_serial: int | None, auth_serial: int, identity_document: str,
                operator: str) -> CardRecord:
    """Record an enrolled card in the caller's transaction (and audit it)."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("no such person")
    document = identity_document.strip()
    if not document:
        raise InvalidInput("name the identity document that was checked",
                           field="identity_document")
    row = CardRow(card_id=card_id, municipality_code=person.municipality_code,
                  resident_code=person.resident_code, person_id=person_id,
                  signing_serial=str(signing_serial) if signing_serial is not None else None,
                  auth_serial=str(auth_serial), identity_document=document[:60],
                  operator=operator, issued_at=clock.now(), state="active")
    session.add(row)
    audit.record(session, clock, actor=operator, action="card.enrol", target=f"card:{card_id}",
                 municipality_code=person.municipality_code,
                 details={"person": person_id, "identity_document": document[:60]})
    session.flush()
    return _record(row)


def cards_of(session: Session, resident_code: str) -> list[CardRecord]:
    rows = session.scalars(select(CardRow).where(CardRow.resident_code == resident_code)
                           .order_by(CardRow.issued_at)).all()
    return [_record(row) for row in rows]


def change_state(session: Session, clock: Clock, card_id: str, state: str, *,
                 operator: str, municipality_code: str) -> CardRecord:
    """Mark a card of this municipality lost or returned (never back to active)."""
    if state not in STATES[1:]:
        raise InvalidInput(f"a card becomes {' or '.join(STATES[1:])}", field="state")
    row = session.get(CardRow, card_id, with_for_update=True)
    if row is None or row.municipality_code != municipality_code:
        raise NotFound("this municipality issued no such card", field="card_id")
    if row.state != "active":
        raise Conflict(f"card {card_id} is already {row.state}", field="card_id")
    row.state = state
    row.state_changed_at = clock.now()
    audit.record(session, clock, actor=operator, action=f"card.{state}",
                 target=f"card:{card_id}", municipality_code=row.municipality_code)
    return _record(row)


def require_active(session: Session, card_id: str, municipality_code: str) -> CardRecord:
    """The card's record, if this municipality issued it and it is active."""
    row = session.get(CardRow, card_id)
    if row is None or row.municipality_code != municipality_code:
        raise NotFound("this municipality issued no such card", field="card_id")
    if row.state != "active":
        raise Conflict(f"the card is {row.state}", field="card_id")
    return _record(row)


def log_counter_action(session: Session, clock: Clock, *, card_id: str, action: str,
                       operator: str, municipality_code: str, identity_document: str) -> None:
    """Audit a counter action on a card, with the identity document that was checked."""
    document = identity_document.strip()
    if not document:
        raise InvalidInput("name the identity document that was checked",
                           field="identity_document")
    audit.record(session, clock, actor=operator, action=action, target=f"card:{card_id}",
                 municipality_code=municipality_code,
                 details={"identity_document": document[:60]})


def replace_certificates(session: Session, clock: Clock, card_id: str, *,
                         serials: Mapping[str, int], action: str, operator: str,
                         municipality_code: str, identity_document: str) -> CardRecord:
    """Record the new certificates of an active card after a renewal or a re-issue (``serials``
    maps ``sign``/``auth`` to the new serial), in the caller's transaction, and audit it with
    the old and new serials and the identity document checked."""
    if action not in REPLACEMENTS:
        raise InvalidInput(f"a replacement is one of {', '.join(REPLACEMENTS)}", field="action")
    if not serials or not set(serials) <= set(SERIAL_COLUMNS):
        raise InvalidInput("name the certificates that were replaced", field="kind")
    document = identity_document.strip()
    if not document:
        raise InvalidInput("name the identity document that was checked",
                           field="identity_document")
    row = session.get(CardRow, card_id, with_for_update=True)
    if row is None or row.municipality_code != municipality_code:
        raise NotFound("this municipality issued no such card", field="card_id")
    if row.state != "active":
        raise Conflict(f"the card is {row.state}", field="card_id")
    changes: dict[str, dict[str, str | None]] = {}
    for kind, serial in sorted(serials.items()):
        column = SERIAL_COLUMNS[kind]
        changes[kind] = {"old": getattr(row, column), "new": str(serial)}
        setattr(row, column, str(serial))
    audit.record(session, clock, actor=operator, action=action, target=f"card:{card_id}",
                 municipality_code=row.municipality_code,
                 details={"serials": changes, "identity_document": document[:60]})
    session.flush()
    return _record(row)


def eligible_kinds(session: Session, card_id: str, on: date) -> frozenset[str]:
    """The certificate kinds the card's holder may receive on ``on``: none for a removed record,
    ``auth`` only under 15 (the signing-certificate age rule), else ``sign`` and ``auth``.

    Decides without showing anything of the record, so it is not a read to audit; issuance
    itself reads the record (audited) and checks again.
    """
    row = session.get(CardRow, card_id)
    person = session.get(Person, row.person_id) if row is not None else None
    if person is None or person.state != RecordState.ACTIVE.value:
        return frozenset()
    if may_hold_signing_certificate(PartialDate.from_code(person.birth_date), on):
        return frozenset(SERIAL_COLUMNS)
    return frozenset({"auth"})
