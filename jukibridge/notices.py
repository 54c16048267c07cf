"""The revocation-notice feed (異動等失効情報) of the national server.

The national server turns each identity event it applies into at most one notice, by the rules of
``notice_for``; notices are numbered in one global sequence and never change. Consumers (the
revocation service) read them in order with a cursor of their own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from jukibridge.identity import BASIC_FOUR
from jukibridge.records import ChangeKind
from jukibridge.tier_tables import NationalSequence, RevocationNoticeRow

FEED = "revocation_notices"


class NoticeKind(Enum):
    BASIC_FOUR_CHANGED = "basic_four_changed"
    RECORD_REMOVED = "record_removed"
    RESIDENT_CODE_CHANGED = "resident_code_changed"


@dataclass(frozen=True)
class RevocationNotice:
    """One notice as consumers see it."""

    seq: int
    notice_id: str
    kind: NoticeKind
    resident_code: str
    previous_resident_code: str | None
    municipality_code: str
    change_reason: str  # a ChangeKind name, or RESYNC for a reconciliation
    effective_on: date
    changed: tuple[str, ...]
    created_at: datetime

    @classmethod
    def from_row(cls, row: RevocationNoticeRow) -> RevocationNotice:
        return cls(seq=row.seq, notice_id=row.notice_id, kind=NoticeKind(row.kind),
                   resident_code=row.resident_code,
                   previous_resident_code=row.previous_resident_code,
                   municipality_code=row.municipality_code,
                   change_reason=row.change_reason, effective_on=row.effective_on,
                   changed=tuple(json.loads(row.changed)), created_at=row.created_at)


def notice_for(event: Any) -> tuple[NoticeKind, list[str]] | None:
    """The notice an identity event gives rise to, with the basic-four items it names.

    - a record removed by death, emigration or cancellation: RECORD_REMOVED;
    - a move-out: BASIC_FOUR_CHANGED (the address; the holder is leaving);
    - a resident-code change: RESIDENT_CODE_CHANGED (not a revocation: lets the certificate
      side re-link);
    - any basic-four item changed, except by a minor correction: BASIC_FOUR_CHANGED;
    - a new record (birth, move-in, immigration) or other items only: none.
    """
    changed = json.loads(event.changed)
    if "removed" in changed:
        if event.removal_reason == ChangeKind.MOVE_OUT.name:
            return NoticeKind.BASIC_FOUR_CHANGED, ["address"]
        return NoticeKind.RECORD_REMOVED, []
    if "created" in changed:
        return None
    if event.previous_resident_code:
        return NoticeKind.RESIDENT_CODE_CHANGED, []
    basic = [item for item in BASIC_FOUR if item in changed]
    if basic and event.change_reason != ChangeKind.MINOR_CORRECTION.name:
        return NoticeKind.BASIC_FOUR_CHANGED, basic
    return None


def append_all(session: Session, events: Sequence[Any], now: datetime) -> int:
    """Append the notices of ``events`` to the feed, in order (in the caller's transaction);
    returns how many were appended."""
    found = [(event, notice) for event in events if (notice := notice_for(event)) is not None]
    if not found:
        return 0
    last = session.execute(
        update(NationalSequence).where(NationalSequence.name == FEED)
        .values(last_seq=NationalSequence.last_seq + len(found))
        .returning(NationalSequence.last_seq)).scalar_one_or_none()
    if last is None:
        session.add(NationalSequence(name=FEED, last_seq=len(found)))
        session.flush()
        last = len(found)
    first = last - len(found) + 1
    session.execute(insert(RevocationNoticeRow), [
        {"seq": first + offset, "notice_id": str(uuid.uuid4()), "event_id": event.event_id,
         "kind": kind.value, "resident_code": event.resident_code,
         "previous_resident_code": event.previous_resident_code,
         "municipality_code": event.municipality_code, "change_reason": event.change_reason,
         "effective_on": event.changed_on, "changed": json.dumps(items), "created_at": now}
        for offset, (event, (kind, items)) in enumerate(found)])
    return len(found)


def read(session: Session, after_seq: int = 0, limit: int = 500) -> list[RevocationNotice]:
    """Notices after ``after_seq``, in order (a consumer passes its cursor)."""
    rows = session.scalars(select(RevocationNoticeRow).where(RevocationNoticeRow.seq > after_seq)
                           .order_by(RevocationNoticeRow.seq).limit(limit)).all()
    return [RevocationNotice.from_row(row) for row in rows]


def last_seq(session: Session) -> int:
    row = session.get(NationalSequence, FEED)
    return row.last_seq if row else 0
