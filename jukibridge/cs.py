"""The communication server (CS) of a municipality: its outbox of identity events.

A committed change that touches identity info writes one event per person, in the same
transaction, numbered by a per-municipality sequence. The sequence row stays locked until the
transaction ends, so numbers are committed in order and a reader following ``origin_seq`` never
skips an event that commits late. Drafts never get here: only ``Register.commit`` calls ``emit``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from jukibridge.identity import IDENTITY_ITEMS, changed_items
from jukibridge.records import RecordState
from jukibridge.tables import Change, Person, Snapshot
from jukibridge.tier_tables import CsOutboxEvent, CsSequence
from pki.clock import Clock


def open_outbox(session: Session, municipality_code: str) -> None:
    """Create the municipality's sequence (once, when it starts keeping its register)."""
    if session.get(CsSequence, municipality_code) is None:
        session.add(CsSequence(municipality_code=municipality_code, last_seq=0))
        session.flush()


def reserve(session: Session, municipality_code: str, count: int) -> int:
    """Reserve ``count`` sequence numbers; returns the first. Locks the sequence row."""
    last = session.execute(
        update(CsSequence).where(CsSequence.municipality_code == municipality_code)
        .values(last_seq=CsSequence.last_seq + count).returning(CsSequence.last_seq)
    ).scalar_one_or_none()
    if last is None:
        open_outbox(session, municipality_code)
        return reserve(session, municipality_code, count)
    return int(last) - count + 1


def event_row(after: Snapshot | dict[str, Any], *, changed: list[str], reason: str,
              changed_on: date, recorded_at: datetime, previous_resident_code: str | None = None,
              change_id: int | None = None) -> dict[str, Any]:
    """An outbox row (without its sequence number) carrying identity info only."""
    get = after.get if isinstance(after, dict) else lambda k: getattr(after, k)
    row: dict[str, Any] = {item: get(item) for item in IDENTITY_ITEMS}
    row.update(
        event_id=str(uuid.uuid4()), municipality_code=get("municipality_code"),
        removed=get("state") == RecordState.REMOVED.value, removal_reason=get("removal_reason"),
        change_reason=reason, changed_on=changed_on, changed=json.dumps(changed),
        previous_resident_code=previous_resident_code, recorded_at=recorded_at,
        change_id=change_id,
    )
    return row


def write(session: Session, municipality_code: str, rows: list[dict[str, Any]]) -> None:
    """Number ``rows`` in order and insert them into the outbox."""
    if not rows:
        return
    first = reserve(session, municipality_code, len(rows))
    for offset, row in enumerate(rows):
        row["origin_seq"] = first + offset
    session.execute(insert(CsOutboxEvent), rows)


def emit(session: Session, clock: Clock, change: Change, person_ids: Iterable[int]) -> int:
    """Write the identity events of a committed change; returns how many were written."""
    rows = []
    now = clock.now()
    for person_id in person_ids:
        person = session.get(Person, person_id)
        assert person is not None
        first_seq = session.scalar(select(func.min(Snapshot.seq)).where(
            Snapshot.person_id == person_id, Snapshot.change_id == change.change_id))
        if first_seq is None:
            continue
        before = session.get(Snapshot, (person_id, first_seq - 1)) if first_seq > 1 else None
        after = session.get(Snapshot, (person_id, person.current_seq))
        assert after is not None
        changed = changed_items(before, after)
        if not changed:
            continue  # household, relationship, flags...: nothing leaves the municipality
        previous = (before.resident_code if before is not None
                    and before.resident_code != after.resident_code else None)
        rows.append(event_row(after, changed=changed, reason=change.kind,
                              changed_on=change.effective_on, recorded_at=now,
                              previous_resident_code=previous, change_id=change.change_id))
    write(session, change.municipality_code, rows)
    return len(rows)
