"""The prefecture server: reads its municipalities' CS outboxes in order and keeps identity info.

One delivery round is one transaction per municipality: the events applied, the prefecture's
own outbox rows and the advanced cursor commit together, so a crash anywhere loses nothing, and
an event seen twice (a re-send) is skipped by its id.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import stores
from jukibridge.tables import Base
from jukibridge.tier_tables import (
    CsOutboxEvent,
    CsSequence,
    PrefectureCursor,
    PrefectureEvent,
    PrefectureIdentity,
)
from pki.clock import Clock

_OUTBOX = Base.metadata.tables[CsOutboxEvent.__tablename__]
_EVENTS = Base.metadata.tables[PrefectureEvent.__tablename__]
_IDENTITIES = Base.metadata.tables[PrefectureIdentity.__tablename__]


def municipalities_of(session: Session, prefecture_code: str) -> list[str]:
    """Municipalities of the prefecture that have a CS outbox."""
    return list(session.scalars(select(CsSequence.municipality_code).where(
        CsSequence.municipality_code.startswith(prefecture_code))
        .order_by(CsSequence.municipality_code)))


def prefectures_with_outboxes(session: Session) -> list[str]:
    codes = session.scalars(select(CsSequence.municipality_code)).all()
    return sorted({code[:2] for code in codes})


def deliver(sessions: sessionmaker[Session], clock: Clock, prefecture_code: str, *,
            batch: int = 1000) -> int:
    """Apply up to ``batch`` new events of each municipality; returns how many were applied."""
    with sessions() as session:
        codes = municipalities_of(session, prefecture_code)
    applied = 0
    for code in codes:
        with sessions() as session, session.begin():
            applied += _deliver_one(session, clock, prefecture_code, code, batch)
    return applied


def _deliver_one(session: Session, clock: Clock, prefecture_code: str, municipality_code: str,
                 batch: int) -> int:
    cursor = session.get(PrefectureCursor, (prefecture_code, municipality_code),
                         with_for_update=True)
    if cursor is None:
        cursor = PrefectureCursor(prefecture_code=prefecture_code,
                                  municipality_code=municipality_code, last_seq=0)
        session.add(cursor)
        session.flush()
    rows = session.execute(select(_OUTBOX).where(
        _OUTBOX.c.municipality_code == municipality_code, _OUTBOX.c.origin_seq > cursor.last_seq)
        .order_by(_OUTBOX.c.origin_seq).limit(batch)).all()
    events = stores.contiguous(rows, cursor.last_seq, "origin_seq")
    if not events:
        return 0
    cursor.last_seq = events[-1].origin_seq
    fresh = stores.unseen(session, _EVENTS, events)
    if not fresh:
        return 0
    stores.apply_identities(session, _IDENTITIES, fresh, prefecture_code=prefecture_code)
    next_seq = (session.scalar(select(func.max(_EVENTS.c.seq)).where(
        _EVENTS.c.prefecture_code == prefecture_code)) or 0) + 1
    now = clock.now()
    session.execute(insert(_EVENTS), [
        {**stores.event_values(event), "prefecture_code": prefecture_code,
         "seq": next_seq + offset, "received_at": now}
        for offset, event in enumerate(fresh)])
    return len(fresh)

