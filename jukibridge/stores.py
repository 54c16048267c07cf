"""What the prefecture and national servers share: copying events and upserting identities.

Both upper tiers keep one identity row per person. A resident-code change arrives as an event
whose ``previous_resident_code`` names the old key: the row is re-keyed and the old code kept in
``former_codes``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from jukibridge.tier_tables import EventColumns, IdentityColumns

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


def event_values(event: EventColumns) -> dict[str, Any]:
    """The columns of an event, to be copied into the next tier's own table."""
    return {column: getattr(event, column) for column in EVENT_COLUMNS}


def upsert_identity(session: Session, event: EventColumns, query: Select[Any],
                    new_row: type[Any], **key: Any) -> IdentityColumns:
    """Apply ``event`` to the identity found by ``query`` (filtered here by resident code),
    creating it with ``key`` columns when it does not exist yet."""
    lookup_code = event.previous_resident_code or event.resident_code
    identity = session.scalars(query.where(new_row.resident_code == lookup_code)).first()
    if identity is None and event.previous_resident_code:
        identity = session.scalars(query.where(new_row.resident_code == event.resident_code)
                                   ).first()
    if identity is None:
        identity = new_row(**key, former_codes="[]")
        session.add(identity)
    elif event.previous_resident_code and identity.resident_code != event.resident_code:
        former = json.loads(identity.former_codes)
        former.append(identity.resident_code)
        identity.former_codes = json.dumps(former)
    for column in IDENTITY_COLUMNS:
        setattr(identity, column, getattr(event, column))
    identity.last_event_id = event.event_id
    return identity


def identity_query(row_type: type[Any], **filters: Any) -> Select[Any]:
    query = select(row_type)
    for column, value in filters.items():
        query = query.where(getattr(row_type, column) == value)
    return query
