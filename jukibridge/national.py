"""The national server: reads each prefecture server's outbox in order, keeps one identity per
person under the current resident code, and appends revocation notices to the feed.

As at the prefecture, one round per prefecture is one transaction (identities, applied-event log,
notices and cursor together), and an event id applied once is never applied again.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import notices
from jukibridge.stores import event_values, identity_query, upsert_identity
from jukibridge.tier_tables import (
    NationalCursor,
    NationalEvent,
    NationalIdentity,
    PrefectureEvent,
)
from pki.clock import Clock


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
    events = session.scalars(select(PrefectureEvent).where(
        PrefectureEvent.prefecture_code == prefecture_code, PrefectureEvent.seq > cursor.last_seq)
        .order_by(PrefectureEvent.seq).limit(batch)).all()
    applied = 0
    now = clock.now()
    for event in events:
        if event.seq != cursor.last_seq + 1:
            break
        cursor.last_seq = event.seq
        if session.get(NationalEvent, event.event_id) is not None:
            continue
        upsert_identity(session, event, identity_query(NationalIdentity), NationalIdentity)
        session.add(NationalEvent(**event_values(event), prefecture_code=prefecture_code,
                                  prefecture_seq=event.seq, received_at=now))
        notices.append(session, event, now)
        session.flush()
        applied += 1
    return applied


def pending(session: Session, prefecture_code: str) -> int:
    cursor = session.get(NationalCursor, prefecture_code)
    last = cursor.last_seq if cursor else 0
    return int(session.scalar(select(func.count()).select_from(PrefectureEvent).where(
        PrefectureEvent.prefecture_code == prefecture_code, PrefectureEvent.seq > last)) or 0)
