"""Append-only audit log with a hash chain: editing or deleting an entry breaks the chain.

Each entry's hash covers its content and the previous entry's hash, so ``verify`` finds the
first entry that was edited, removed or inserted out of place. Removing entries from the end
leaves a shorter chain that still fits, so ``verify`` also takes a witness: the head of an
earlier verification, kept outside the database, which the chain must still contain.
Details never carry secrets (passwords, PINs) nor full individual numbers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, text
from sqlalchemy.orm import Session

from jukibridge.errors import AuditChainBroken
from jukibridge.tables import AuditEntry
from pki.clock import Clock

GENESIS = "0" * 64
_TABLE = AuditEntry.__table__
LOCK_KEY = 7410001
_LOCK = text(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
_LAST = (select(_TABLE.c.entry_id, _TABLE.c.entry_hash)
         .order_by(_TABLE.c.entry_id.desc()).limit(1))
_INSERT = insert(AuditEntry)


def _entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    body = json.dumps(
        [entry.entry_id, entry.at.isoformat(), entry.actor, entry.municipality_code,
         entry.action, entry.target, entry.details],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def writer_lock() -> ColumnElement[Any]:
    """An expression that takes the audit writers' lock on PostgreSQL (held until commit)."""
    return func.pg_advisory_xact_lock(LOCK_KEY)


def record(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    action: str,
    target: str = "",
    municipality_code: str | None = None,
    details: dict[str, Any] | None = None,
    locked: bool = False,
) -> int:
    """Append one entry in the caller's transaction (it commits or rolls back with the action);
    returns the entry id. ``locked``: the caller already took ``writer_lock()`` in this
    transaction (a hot path may fold it into its first statement to save a round trip)."""
    conn = session.connection()  # Core statements, prepared once: this runs on every read
    if conn.dialect.name == "postgresql" and not locked:
        # Serialise writers so the chain never forks (released at commit or rollback).
        conn.execute(_LOCK)
    last = conn.execute(_LAST).first()
    entry = AuditEntry(
        entry_id=(last[0] + 1) if last else 1,
        at=clock.now().astimezone(UTC),
        actor=actor,
        municipality_code=municipality_code,
        action=action,
        target=target,
        details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True,
                           separators=(",", ":")),
        prev_hash=last[1] if last else GENESIS,
    )
    entry.entry_hash = _entry_hash(entry.prev_hash, entry)
    # A Core insert: cheaper than the unit of work, and audit rows are never read back here.
    conn.execute(_INSERT, {c.key: getattr(entry, c.key) for c in _TABLE.c})
    return entry.entry_id


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str


def verify(session: Session, *, witness: ChainReport | None = None,
           batch: int = 5000) -> ChainReport:
    """Walk the whole chain; raise ``AuditChainBroken`` at the first entry that does not fit.

    With a ``witness`` (an earlier report), the chain must still hold that many entries and
    end, at that entry, in that hash.
    """
    prev, expected_id, count = GENESIS, 1, 0
    witnessed = GENESIS if witness is not None and witness.entries == 0 else None
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.entry_id > last_id)
            .order_by(AuditEntry.entry_id).limit(batch)
        ).all()
        if not rows:
            break
        for entry in rows:
            if entry.entry_id != expected_id:
                raise AuditChainBroken(
                    f"audit entry {expected_id} is missing", entry_id=expected_id)
            if entry.prev_hash != prev or _entry_hash(prev, entry) != entry.entry_hash:
                raise AuditChainBroken(
                    f"audit entry {entry.entry_id} was altered", entry_id=entry.entry_id)
            prev, expected_id, count = entry.entry_hash, expected_id + 1, count + 1
            if witness is not None and count == witness.entries:
                witnessed = prev
        last_id = rows[-1].entry_id
        session.expunge_all()
    if witness is not None:
        if count < witness.entries:
            raise AuditChainBroken(
                f"audit entries {count + 1}–{witness.entries} were removed from the end",
                entry_id=count + 1)
        if witnessed != witness.head_hash:
            raise AuditChainBroken(
                f"audit entry {witness.entries} differs from the last verified head",
                entry_id=witness.entries)
    return ChainReport(entries=count, head_hash=prev)


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
