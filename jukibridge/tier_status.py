"""Observing the tiers: lag per hop, and reconciling a municipality with the upper tiers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import cs, notices
from jukibridge.errors import NotFound
from jukibridge.identity import IDENTITY_ITEMS
from jukibridge.records import RecordState
from jukibridge.register import JST
from jukibridge.tables import Person, RegisterSettings, Snapshot
from jukibridge.tier_tables import (
    CsOutboxEvent,
    CsSequence,
    IdentityColumns,
    NationalCursor,
    NationalIdentity,
    PrefectureCursor,
    PrefectureEvent,
    PrefectureIdentity,
)
from pki.clock import Clock

RESYNC = "RESYNC"  # change reason of events re-sent by ``reconcile --repair``


@dataclass(frozen=True)
class Hop:
    """One hop between tiers: how far the reader is behind the writer."""

    source: str  # "cs:112089" or "prefecture:11"
    target: str  # "prefecture:11" or "national"
    last_sent: int
    last_applied: int
    oldest_pending_at: datetime | None

    @property
    def pending(self) -> int:
        return self.last_sent - self.last_applied


@dataclass(frozen=True)
class TierStatus:
    hops: list[Hop]
    notices: int


def status(session: Session) -> TierStatus:
    """Events pending on every hop and the age of the oldest, plus the length of the feed."""
    hops: list[Hop] = []
    for seq in session.scalars(select(CsSequence).order_by(CsSequence.municipality_code)):
        code = seq.municipality_code
        cursor = session.get(PrefectureCursor, (code[:2], code))
        applied = cursor.last_seq if cursor else 0
        oldest = session.scalar(select(CsOutboxEvent.recorded_at).where(
            CsOutboxEvent.municipality_code == code, CsOutboxEvent.origin_seq == applied + 1))
        hops.append(Hop(f"cs:{code}", f"prefecture:{code[:2]}", seq.last_seq, applied, oldest))
    rows = session.execute(select(PrefectureEvent.prefecture_code, func.max(PrefectureEvent.seq))
                           .group_by(PrefectureEvent.prefecture_code)
                           .order_by(PrefectureEvent.prefecture_code)).all()
    for prefecture_code, last in rows:
        national = session.get(NationalCursor, prefecture_code)
        applied = national.last_seq if national else 0
        oldest = session.scalar(select(PrefectureEvent.received_at).where(
            PrefectureEvent.prefecture_code == prefecture_code,
            PrefectureEvent.seq == applied + 1))
        hops.append(Hop(f"prefecture:{prefecture_code}", "national", last, applied, oldest))
    return TierStatus(hops=hops, notices=notices.last_seq(session))


@dataclass
class Difference:
    resident_code: str
    tier: str  # "prefecture" or "national"
    problem: str  # "missing", "differs: name, address", "not in the register"


@dataclass
class Reconciliation:
    municipality_code: str
    checked: int
    differences: list[Difference] = field(default_factory=list)
    resent: int = 0


def reconcile(sessions: sessionmaker[Session], clock: Clock, municipality_code: str, *,
              repair: bool = False) -> Reconciliation:
    """Compare the municipality's records with the prefecture and national stores.

    With ``repair``, every record that is missing or differs upstream is re-sent through the CS
    outbox as a ``RESYNC`` event (ordered and idempotent like any other event); the workers then
    carry it up. Identities upstream that the register does not know are only reported.
    """
    with sessions() as session, session.begin():
        if session.get(RegisterSettings, municipality_code) is None:
            raise NotFound(f"municipality {municipality_code} keeps no register here",
                           municipality_code=municipality_code)
        snapshots = _current_snapshots(session, municipality_code)
        prefecture = {i.resident_code: i for i in session.scalars(select(PrefectureIdentity).where(
            PrefectureIdentity.prefecture_code == municipality_code[:2]))}
        national = {i.resident_code: i for i in session.scalars(select(NationalIdentity).where(
            NationalIdentity.resident_code.in_(list(snapshots)) |
            (NationalIdentity.municipality_code == municipality_code)))}
        result = Reconciliation(municipality_code, checked=len(snapshots))
        resend: list[Snapshot] = []
        for code, row in snapshots.items():
            wrong = False
            for tier, store in (("prefecture", prefecture), ("national", national)):
                problem = _compare(row, store.get(code))
                if problem:
                    result.differences.append(Difference(code, tier, problem))
                    wrong = True
            if wrong:
                resend.append(row)
        for tier, store in (("prefecture", prefecture), ("national", national)):
            for code, identity in store.items():
                if (identity.municipality_code == municipality_code and not identity.removed
                        and code not in snapshots):
                    result.differences.append(Difference(code, tier, "not in the register"))
        if repair and resend:
            now = clock.now()
            today = now.astimezone(JST).date()
            cs.write(session, municipality_code, [
                cs.event_row(row, changed=_changed_upstream(row, national.get(
                    row.resident_code)), reason=RESYNC, changed_on=today, recorded_at=now)
                for row in resend])
            result.resent = len(resend)
        return result


def _current_snapshots(session: Session, municipality_code: str) -> dict[str, Snapshot]:
    """The current snapshot of every record of the municipality whose identity it still holds
    (active records, and removed ones except those who moved on and live elsewhere now)."""
    rows = session.execute(select(Snapshot).join(Person, (Person.person_id == Snapshot.person_id)
                                                 & (Person.current_seq == Snapshot.seq))
                           .where(Person.municipality_code == municipality_code)).scalars()
    current: dict[str, Snapshot] = {}
    for row in rows:
        if row.state == RecordState.REMOVED.value and row.resident_code in current:
            continue
        current[row.resident_code] = row
    elsewhere = set(session.scalars(select(Person.resident_code).where(
        Person.resident_code.in_(list(current)), Person.municipality_code != municipality_code,
        Person.state == RecordState.ACTIVE.value)))
    return {code: row for code, row in current.items()
            if not (row.state == RecordState.REMOVED.value and code in elsewhere)}


def _compare(row: Snapshot, identity: IdentityColumns | None) -> str:
    if identity is None:
        return "missing"
    changed = _changed_upstream(row, identity)
    return f"differs: {', '.join(changed)}" if changed else ""


def _changed_upstream(row: Snapshot, identity: IdentityColumns | None) -> list[str]:
    """What the upper store must change to match the register (every item if it lacks the
    record; ``removed``/``restored`` when only the register's state differs)."""
    if identity is None:
        return ["created", *IDENTITY_ITEMS]
    changed = [i for i in IDENTITY_ITEMS if getattr(row, i) != getattr(identity, i)]
    if (row.state == RecordState.REMOVED.value) != identity.removed:
        changed.append("removed" if row.state == RecordState.REMOVED.value else "restored")
    return changed

