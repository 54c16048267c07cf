"""Identity info (本人確認情報): the only part of a record that leaves the municipality.

The items are the basic four (name, birth date, sex, address), the former surname and alias,
the resident code and the individual number, plus the reason and date of the change.
"""

from __future__ import annotations

from typing import Any

from jukibridge.records import RecordState
from jukibridge.tables import Snapshot

BASIC_FOUR = ("name", "birth_date", "sex", "address")
IDENTITY_ITEMS = (
    "resident_code", "individual_number", "name", "former_surname", "alias", "birth_date",
    "sex", "address",
)


def identity_of(row: Snapshot) -> dict[str, Any]:
    """The identity items of one snapshot (nothing else)."""
    return {item: getattr(row, item) for item in IDENTITY_ITEMS}


def changed_items(before: Snapshot | None, after: Snapshot) -> list[str]:
    """Identity items that differ between two snapshots, plus ``removed``/``restored`` when the
    record's state changed; ``created`` and every item for a new record."""
    if before is None:
        return ["created", *IDENTITY_ITEMS]
    changed = [i for i in IDENTITY_ITEMS if getattr(before, i) != getattr(after, i)]
    if before.state != after.state:
        changed.append("removed" if after.state == RecordState.REMOVED.value else "restored")
    return changed
