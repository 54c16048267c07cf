"""The national server: reads each prefecture server's outbox in order, keeps one identity per
person under the current resident code, and appends revocation notices to the feed.

As at the prefecture, one round per prefecture is one transaction (identities, applied-event log,
notices and cursor together), and an event id applied once is never applied again.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import notices, stores
from jukibridge.tables import Base
from jukibridge.tier_tables import (
    NationalCursor,
    NationalEvent,
    NationalIdentity,
    PrefectureEvent,
)
from pki.clock import Clock

_SOURCE = Base.metadata.tables[PrefectureEvent.__tablename__]
_EVENTS = Base.metadata.tables[NationalEvent.__tablename__]
_IDENTITIES = Base.metadata.tables[NationalIdentity.__tablename__]


def deliver(sessions: sessionmaker[Session], clock: Clock, *, batch: int = 1000) -> int:
    """Apply up to ``batch`` new events of each prefecture; returns how many were applied."""
    with sessions() as session:
        prefectures = list(session.scalars(
            select(PrefectureEvent.prefecture_code).distinct()))
    applied = 0
    for prefecture_code in sorted(prefectures):
        with sessions() as session, session.begin():
            applied += _deliver_one(session, clock, prefecture_code, batch)
    return applied


def _deliver_one(session: Session, clock: Clock, prefecture_code: str, batch: int) -> int:
    cursor = session.get(NationalCursor, prefecture_code, with_for_update=True)
    if cursor is None:
        cursor = NationalCursor(prefecture_code=prefecture_code, last_seq=0)
        session.add(cursor)
        session.flush()
    rows = session.execute(select(_SOURCE).where(
        _SOURCE.c.prefecture_code == prefecture_code, _SOURCE.c.seq > cursor.last_seq)
        .order_by(_SOURCE.c.seq).limit(batch)).all()
    events = stores.contiguous(rows, cursor.last_seq, "seq")
    if not events:
        return 0
    cursor.last_seq = events[-1].seq
    fresh = stores.unseen(session, _EVENTS, events)
    if not fresh:
        return 0
    stores.apply_identities(session, _IDENTITIES, fresh)
    now = clock.now()
    session.execute(insert(_EVENTS), [
        {**stores.event_values(event), "prefecture_code": prefecture_code,
         "prefecture_seq": event.seq, "received_at": now} for event in fresh])
    notices.append_all(session, fresh, now)
    return len(fresh)

