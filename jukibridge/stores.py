"""What the prefecture and national servers share: reading a batch of events and applying it.

Both upper tiers keep one identity row per person. A resident-code change arrives as an event
whose ``previous_resident_code`` names the old key: the row is re-keyed and the old code kept in
``former_codes``. A batch is applied with a handful of set-based statements (one read of the
identities it touches, bulk inserts and updates), not one round trip per event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

# Columns an event carries up, in the order of EventColumns.
EVENT_COLUMNS = (
    "event_id", "origin_seq", "previous_resident_code", "removal_reason", "changed",
    "recorded_at", "resident_code", "individual_number", "name", "former_surname", "alias",
    "birth_date", "sex", "address", "municipality_code", "removed", "change_reason",
    "changed_on",
)
IDENTITY_COLUMNS = (
    "resident_code", "individual_number", "name", "former_surname", "alias", "birth_date",
    "sex", "address", "municipality_code", "removed", "change_reason", "changed_on",
)


def event_values(event: Row[Any]) -> dict[str, Any]:
    """The columns of an event, to be copied into the next tier's own table."""
    return {column: getattr(event, column) for column in EVENT_COLUMNS}


def contiguous(rows: Sequence[Row[Any]], last_seq: int, seq_column: str) -> list[Row[Any]]:
    """The rows that follow ``last_seq`` without a gap (a gap is read again next round)."""
    taken = []
    for row in rows:
        if getattr(row, seq_column) != last_seq + 1:
            break
        taken.append(row)
        last_seq += 1
    return taken


def unseen(session: Session, applied: Table, rows: list[Row[Any]]) -> list[Row[Any]]:
    """The rows whose event id ``applied`` does not hold yet (re-sends are skipped)."""
    ids = [row.event_id for row in rows]
    seen = set(session.scalars(select(applied.c.event_id).where(applied.c.event_id.in_(ids))))
    return [row for row in rows if row.event_id not in seen]


def apply_identities(session: Session, identities: Table, events: list[Row[Any]],
                     **scope: Any) -> None:
    """Upsert the identities ``events`` describe, in order, inside ``scope`` (e.g. one
    prefecture's rows)."""
    if not events:
        return
    codes = {e.resident_code for e in events} | {
        e.previous_resident_code for e in events if e.previous_resident_code}
    query = select(identities).where(identities.c.resident_code.in_(codes))
    for column, value in scope.items():
        query = query.where(identities.c[column] == value)
    current: dict[str, dict[str, Any]] = {
        row.resident_code: dict(row._mapping) for row in session.execute(query)}
    touched: dict[int, dict[str, Any]] = {}  # by id(): each identity written once
    for event in events:
        identity = None
        if event.previous_resident_code:
            identity = current.pop(event.previous_resident_code, None)
            if identity is not None and identity["resident_code"] != event.resident_code:
                identity["former_codes"] = json.dumps(
                    [*json.loads(identity["former_codes"]), identity["resident_code"]])
        if identity is None:
            identity = current.get(event.resident_code)
        if identity is None:
            identity = {"identity_id": None, "former_codes": "[]", **scope}
        for column in IDENTITY_COLUMNS:
            identity[column] = getattr(event, column)
        identity["last_event_id"] = event.event_id
        current[event.resident_code] = identity
        touched[id(identity)] = identity
    new = [{k: v for k, v in t.items() if k != "identity_id"}
           for t in touched.values() if t["identity_id"] is None]
    changed = [{f"b_{k}": v for k, v in t.items()} for t in touched.values()
               if t["identity_id"] is not None]
    if changed:
        columns = [c for c in changed[0] if c != "b_identity_id"]
        session.execute(
            update(identities).where(identities.c.identity_id == bindparam("b_identity_id"))
            .values({c[2:]: bindparam(c) for c in columns}), changed)
    if new:
        session.execute(insert(identities), new)
