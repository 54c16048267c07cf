"""Residents' consents to the latest-basic-four service (最新の基本4情報の提供への同意).

A registered verifier may learn a revoked signing certificate holder's current basic four only
with the holder's consent. A consent is given or withdrawn by the resident (on the portal, after
a card login, or at the counter) and recorded as one row: resident code, what, given or
withdrawn, when and through which channel. Rows are never updated or deleted; the newest row of
a resident is the current state, and the rows are the history.

A resident code may be replaced (a re-link, see ``service.former_codes``): a consent recorded
under any code of the same person counts for all of them, so the service for verifiers may ask
with the code a certificate was issued to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from pki.clock import Clock
from revocation.errors import InvalidRequest
from revocation.tables import CodeLink, ConsentEntry


class ConsentPurpose(Enum):
    """What a consent is for (one purpose for now)."""

    LATEST_BASIC_FOUR = "latest_basic_four"


class ConsentState(Enum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    NONE = "none"  # never given nor withdrawn


class Channel(Enum):
    """Where the resident expressed it."""

    PORTAL = "portal"
    COUNTER = "counter"


@dataclass(frozen=True)
class Consent:
    """One recorded consent or withdrawal."""

    consent_id: int
    resident_code: str
    purpose: ConsentPurpose
    state: ConsentState
    channel: Channel
    recorded_at: datetime

    @classmethod
    def from_row(cls, row: ConsentEntry) -> Consent:
        return cls(consent_id=row.consent_id, resident_code=row.resident_code,
                   purpose=ConsentPurpose(row.purpose), state=ConsentState(row.state),
                   channel=Channel(row.channel), recorded_at=row.recorded_at)


@dataclass(frozen=True)
class Recorded:
    """What ``give`` or ``withdraw`` did: the current entry, and whether it is new."""

    consent: Consent
    changed: bool  # False: the state was already this one; nothing was recorded


def _checked(resident_code: str) -> str:
    code = resident_code.strip()
    if len(code) != 11 or not code.isascii() or not code.isdigit():
        raise InvalidRequest("a resident code is 11 digits", field="resident_code")
    return code


def linked_codes(session: Session, resident_code: str) -> set[str]:
    """``resident_code`` and every code linked to it by re-links, either way."""
    found = {resident_code}
    frontier = {resident_code}
    while frontier:
        rows = session.scalars(select(CodeLink).where(or_(
            CodeLink.resident_code.in_(sorted(frontier)),
            CodeLink.previous_code.in_(sorted(frontier))))).all()
        frontier = set()
        for row in rows:
            for code in (row.resident_code, row.previous_code):
                if code not in found:
                    found.add(code)
                    frontier.add(code)
    return found


def _latest(session: Session, codes: set[str], purpose: ConsentPurpose) -> ConsentEntry | None:
    return session.scalars(select(ConsentEntry).where(
        ConsentEntry.resident_code.in_(sorted(codes)), ConsentEntry.purpose == purpose.value)
        .order_by(ConsentEntry.recorded_at.desc(), ConsentEntry.consent_id.desc())
        .limit(1)).first()


def state_of(session: Session, resident_code: str,
             purpose: ConsentPurpose = ConsentPurpose.LATEST_BASIC_FOUR) -> ConsentState:
    """The current state, in the caller's session (the verifiers' service reads this)."""
    latest = _latest(session, linked_codes(session, _checked(resident_code)), purpose)
    return ConsentState(latest.state) if latest is not None else ConsentState.NONE


def current(sessions: sessionmaker[Session], resident_code: str,
            purpose: ConsentPurpose = ConsentPurpose.LATEST_BASIC_FOUR) -> ConsentState:
    """The current state of a resident's consent."""
    with sessions() as session:
        return state_of(session, resident_code, purpose)


def history(sessions: sessionmaker[Session], resident_code: str,
            purpose: ConsentPurpose = ConsentPurpose.LATEST_BASIC_FOUR) -> list[Consent]:
    """Every consent and withdrawal of the resident (under any linked code), oldest first."""
    with sessions() as session:
        codes = linked_codes(session, _checked(resident_code))
        rows = session.scalars(select(ConsentEntry).where(
            ConsentEntry.resident_code.in_(sorted(codes)), ConsentEntry.purpose == purpose.value)
            .order_by(ConsentEntry.recorded_at, ConsentEntry.consent_id))
        return [Consent.from_row(row) for row in rows]


def _record(sessions: sessionmaker[Session], clock: Clock, resident_code: str,
            state: ConsentState, channel: Channel, purpose: ConsentPurpose) -> Recorded:
    code = _checked(resident_code)
    with sessions() as session, session.begin():
        latest = _latest(session, linked_codes(session, code), purpose)
        if latest is not None and latest.state == state.value:
            return Recorded(Consent.from_row(latest), changed=False)
        if latest is None and state is ConsentState.WITHDRAWN:
            raise InvalidRequest("no consent was given, so none can be withdrawn",
                                 field="state")
        row = ConsentEntry(resident_code=code, purpose=purpose.value, state=state.value,
                           channel=channel.value, recorded_at=clock.now())
        session.add(row)
        session.flush()
        return Recorded(Consent.from_row(row), changed=True)


def give(sessions: sessionmaker[Session], clock: Clock, resident_code: str, *,
         channel: Channel, purpose: ConsentPurpose = ConsentPurpose.LATEST_BASIC_FOUR
         ) -> Recorded:
    """Record the resident's consent (nothing new if it is already given)."""
    return _record(sessions, clock, resident_code, ConsentState.GIVEN, channel, purpose)


def withdraw(sessions: sessionmaker[Session], clock: Clock, resident_code: str, *,
             channel: Channel, purpose: ConsentPurpose = ConsentPurpose.LATEST_BASIC_FOUR
             ) -> Recorded:
    """Record the withdrawal of a given consent (nothing new if it is already withdrawn)."""
    return _record(sessions, clock, resident_code, ConsentState.WITHDRAWN, channel, purpose)
