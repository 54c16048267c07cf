"""Append-only audit log with a hash chain: editing or deleting an entry breaks the chain.

Each entry's hash covers its content and the previous entry's hash, so ``verify`` finds the
first entry that was edited, removed or inserted out of place. A one-row table names the
newest entry (``AuditHead``): writers append through it, and ``verify`` checks the log still
ends there. Someone able to rewrite both could leave a shorter chain that still fits, so
``verify`` also takes a witness: the head of an earlier verification, kept outside the
database, which the chain must still contain.
Details never carry secrets (passwords, PINs) nor full individual numbers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Insert,
    Text,
    bindparam,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from jukibridge.errors import AuditChainBroken
from jukibridge.tables import AuditEntry, AuditHead, UtcDateTime
from pki.clock import Clock

GENESIS = "0" * 64
HEAD_ID = 1  # the audit_head table holds this one row
_TABLE = AuditEntry.__table__
_HEAD = AuditHead.__table__
HEAD_ROW = AuditHead  # updates name the mapped class (typed), reads the table
_READ_HEAD = select(_HEAD.c.entry_id, _HEAD.c.entry_hash).where(_HEAD.c.head_id == HEAD_ID)
_INSERT = insert(AuditEntry)
_COLUMNS = ("entry_id", "at", "actor", "municipality_code", "action", "target", "details",
            "prev_hash", "entry_hash")


def _entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    body = json.dumps(
        [entry.entry_id, entry.at.isoformat(), entry.actor, entry.municipality_code,
         entry.action, entry.target, entry.details],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True)
class Pending:
    """An entry to append, all but its place in the chain (id, previous hash, hash)."""

    at: datetime
    actor: str
    action: str
    target: str
    municipality_code: str | None
    details: str  # canonical JSON

    @classmethod
    def of(cls, clock: Clock, *, actor: str, action: str, target: str = "",
           municipality_code: str | None = None,
           details: dict[str, Any] | None = None) -> Pending:
        return cls(at=clock.now().astimezone(UTC), actor=actor, action=action, target=target,
                   municipality_code=municipality_code,
                   details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True,
                                      separators=(",", ":")))

    def rest(self) -> str:
        """The hashed body after its entry id: ``_entry_hash``'s JSON is
        ``"[" + str(entry_id) + "," + rest``, so the database can hash it once it knows
        the id."""
        return json.dumps([self.at.isoformat(), self.actor, self.municipality_code,
                           self.action, self.target, self.details],
                          ensure_ascii=False, separators=(",", ":"))[1:]

    def values(self) -> dict[str, Any]:
        return {"at": self.at, "actor": self.actor, "municipality_code": self.municipality_code,
                "action": self.action, "target": self.target, "details": self.details}


def record(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    action: str,
    target: str = "",
    municipality_code: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Append one entry in the caller's transaction (it commits or rolls back with the action);
    returns the entry id."""
    pending = Pending.of(clock, actor=actor, action=action, target=target,
                         municipality_code=municipality_code, details=details)
    conn = session.connection()  # Core statements, prepared once: this runs on every read
    if conn.dialect.name == "postgresql":
        # One statement: move the head (row lock: writers queue here) and insert the entry.
        return int(conn.execute(_APPEND, {**pending.values(), "rest": pending.rest()})
                   .scalar_one())
    # SQLite: writers are already serialised by the write transaction (BEGIN IMMEDIATE).
    last_id, prev_hash = conn.execute(_READ_HEAD).one()
    entry_id = last_id + 1
    entry_hash = hashlib.sha256(
        (prev_hash + "[" + str(entry_id) + "," + pending.rest()).encode()).hexdigest()
    conn.execute(update(HEAD_ROW).where(_HEAD.c.head_id == HEAD_ID).values(
        entry_id=entry_id, prev_hash=prev_hash, entry_hash=entry_hash))
    conn.execute(_INSERT, {**pending.values(), "entry_id": entry_id, "prev_hash": prev_hash,
                           "entry_hash": entry_hash})
    return entry_id


def advance_head(rest: ColumnElement[str], *,
                 where: ColumnElement[bool] | None = None) -> CTE:
    """PostgreSQL: a CTE ``head`` that moves the chain head on by one entry whose body after
    its id is ``rest`` (an SQL text expression), hashing it in the database, and returns the
    new entry's id, previous hash and hash. ``where``: move only when this holds (no entry
    otherwise). Under READ COMMITTED a writer that waited for the row lock re-evaluates the
    update on the version its predecessor committed, so ids and hashes always chain."""
    h = _HEAD.c
    body = h.entry_hash + "[" + cast(h.entry_id + 1, Text) + "," + rest
    statement = update(HEAD_ROW).where(h.head_id == HEAD_ID)
    if where is not None:
        statement = statement.where(where)
    return (statement.values(entry_id=h.entry_id + 1, prev_hash=h.entry_hash,
                             entry_hash=func.encode(func.sha256(func.convert_to(body, "UTF8")),
                                                    "hex"))
            .returning(h.entry_id, h.prev_hash, h.entry_hash).cte("head"))


def append_from(head: CTE, *, target: ColumnElement[str] | None = None) -> Insert:
    """PostgreSQL: insert the entry placed by ``advance_head``, its items bound by name
    (``Pending.params()``); ``target``: an SQL expression for the target when the statement
    finds it itself (it must match the hashed body)."""
    columns = [head.c.entry_id, bindparam("at", type_=UtcDateTime()),
               *(bindparam(name, type_=_TABLE.c[name].type)
                 for name in ("actor", "municipality_code", "action")),
               bindparam("target", type_=Text) if target is None else target,
               bindparam("details", type_=Text), head.c.prev_hash, head.c.entry_hash]
    return insert(AuditEntry).from_select(list(_COLUMNS), select(*columns))


# PostgreSQL: one statement appends an entry (built once; its items are bound per call).
_APPEND = append_from(advance_head(bindparam("rest", type_=Text))).returning(_TABLE.c.entry_id)


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
    head = session.execute(_READ_HEAD).first()
    if head is not None and (head.entry_id, head.entry_hash) != (count, prev):
        if head.entry_id > count:
            raise AuditChainBroken(_removed(count + 1, head.entry_id), entry_id=count + 1)
        raise AuditChainBroken(f"the audit chain head does not match entry {count}",
                               entry_id=count)
    if witness is not None:
        if count < witness.entries:
            raise AuditChainBroken(_removed(count + 1, witness.entries), entry_id=count + 1)
        if witnessed != witness.head_hash:
            raise AuditChainBroken(
                f"audit entry {witness.entries} differs from the last verified head",
                entry_id=witness.entries)
    return ChainReport(entries=count, head_hash=prev)


def _removed(first: int, last: int) -> str:
    if first == last:
        return f"audit entry {first} was removed from the end"
    return f"audit entries {first}–{last} were removed from the end"


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
