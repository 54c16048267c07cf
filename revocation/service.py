"""Revocations: recording them, looking up a certificate's status, consuming notices.

A revocation is one row per certificate, keyed by ``(issuer key id, serial)``; it records the
reason (from ``rules.RULES`` only), the cause and who or what asked for it (notice id, request id,
operator), the revocation time and the invalidity date. Nothing is ever updated or deleted:
revoking a revoked certificate changes nothing and says so (``Outcome.changed`` is False), even
with another cause. In particular a ``certificateHold`` is never released or replaced.

Which certificates a notice revokes
-----------------------------------
The CA reads the holder from the register when it issues, so a certificate issued *after* the
change was committed at the counter already carries the new basic four and must stay good, while
one issued *before* carries the old data and must go. The notice's ``effective_on`` cannot tell
the two apart: it is the legal date of the change (a death is entered days later, a move-out may
be entered ahead), not the moment the register changed. The notice's ``created_at`` (its entry
into the national feed) is always at or after that commit. So a notice revokes the holder's
certificates whose ``not_before`` is **at or before** ``created_at``:

- notBefore is the issuance instant truncated to the second, never later than the moment the
  CA read the holder, so no certificate issued from the old data escapes;
- the error, if any, is on the safe side: a certificate issued in the short window between the
  commit and the notice (under a second with the tiers running) is revoked although it carried
  the new data; the holder gets a new one, whereas a live certificate with stale basic four
  would be a wrong answer to every relying party;
- certificates already expired are left alone; revoking them would say nothing.

The invalidity date of a notice's revocation is the start (JST) of ``effective_on``, kept
between the certificate's notBefore and the revocation time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import Enum

from cryptography.x509 import ReasonFlags
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pki.clock import Clock
from pki.profile import CertKind
from revocation.errors import InvalidRequest, UnknownCertificate
from revocation.ports import CertificateDirectory, CertificateRecord, Notice, NoticeFeed
from revocation.rules import NOTICE_CAUSES, Cause, Scope, holder_kinds, rule_for
from revocation.tables import AppliedNotice, CodeLink, RevocationCursor, RevocationEntry

log = logging.getLogger(__name__)

CONSUMER = "national_notices"
JST = timezone(timedelta(hours=9))
CHUNK = 2000  # keys per IN (...) list: far below SQLite's and PostgreSQL's parameter limits
HOLDER_KINDS = frozenset({CertKind.SIGNING.value, CertKind.AUTHENTICATION.value})


@dataclass(frozen=True)
class CertRef:
    """A certificate by its stable identifier."""

    issuer_key_id: str
    serial: int

    def __str__(self) -> str:
        return f"{self.issuer_key_id}:{self.serial}"


@dataclass(frozen=True)
class Revocation:
    """A revocation as recorded."""

    issuer_key_id: str
    serial: int
    kind: str
    resident_code: str | None
    card_id: str | None
    partition: str | None
    not_after: datetime
    reason: ReasonFlags
    cause: Cause
    cause_ref: str | None
    operator: str | None
    revoked_at: datetime
    invalidity_date: datetime | None

    @property
    def ref(self) -> CertRef:
        return CertRef(self.issuer_key_id, self.serial)

    @classmethod
    def from_row(cls, row: RevocationEntry) -> Revocation:
        return cls(issuer_key_id=row.issuer_key_id, serial=int(row.serial), kind=row.kind,
                   resident_code=row.resident_code, card_id=row.card_id,
                   partition=row.partition, not_after=row.not_after,
                   reason=ReasonFlags(row.reason), cause=Cause(row.cause),
                   cause_ref=row.cause_ref, operator=row.operator, revoked_at=row.revoked_at,
                   invalidity_date=row.invalidity_date)

    def values(self) -> dict[str, object]:
        """The row's column values."""
        return {"issuer_key_id": self.issuer_key_id, "serial": str(self.serial),
                "kind": self.kind, "resident_code": self.resident_code,
                "card_id": self.card_id, "partition": self.partition,
                "not_after": self.not_after, "reason": self.reason.value,
                "cause": self.cause.value, "cause_ref": self.cause_ref,
                "operator": self.operator, "revoked_at": self.revoked_at,
                "invalidity_date": self.invalidity_date}


@dataclass(frozen=True)
class Outcome:
    """What one revocation request did to one certificate."""

    revocation: Revocation
    changed: bool  # False: the certificate was revoked before; nothing changed

    @property
    def message(self) -> str:
        r = self.revocation
        if self.changed:
            return f"revoked {r.ref} ({r.reason.value}, {r.cause.value})"
        return (f"{r.ref} was already revoked at {r.revoked_at.isoformat()} "
                f"({r.reason.value}, {r.cause.value}); nothing changed")


class CertStatus(Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"  # never issued by this issuer (or the issuer is not ours)


@dataclass(frozen=True)
class Status:
    state: CertStatus
    certificate: CertificateRecord | None
    revocation: Revocation | None


Listener = Callable[[Sequence[Revocation]], None]


@dataclass(frozen=True)
class _Intent:
    """A certificate to revoke, and why."""

    record: CertificateRecord
    cause: Cause
    cause_ref: str | None
    operator: str | None
    invalidity_date: datetime | None


# -- storage helpers (in the caller's transaction) -----------------------------------------------


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def revocations_of(session: Session, refs: Iterable[CertRef]) -> dict[CertRef, Revocation]:
    """The recorded revocations among ``refs``."""
    wanted = set(refs)
    found: dict[CertRef, Revocation] = {}
    serials = sorted({str(ref.serial) for ref in wanted})
    for chunk in _chunks(serials):
        for row in session.scalars(select(RevocationEntry)
                                   .where(RevocationEntry.serial.in_(chunk))):
            revocation = Revocation.from_row(row)
            if revocation.ref in wanted:
                found[revocation.ref] = revocation
    return found


def revocation_of(session: Session, issuer_key_id: str, serial: int) -> Revocation | None:
    row = session.scalars(select(RevocationEntry).where(
        RevocationEntry.issuer_key_id == issuer_key_id,
        RevocationEntry.serial == str(serial))).first()
    return Revocation.from_row(row) if row else None


def _write(session: Session, intents: Sequence[_Intent], now: datetime) -> list[Outcome]:
    """Record the intents not yet revoked, in order; one outcome per intent."""
    refs = [CertRef(i.record.issuer_key_id, i.record.serial) for i in intents]
    known = revocations_of(session, refs)
    outcomes: list[Outcome] = []
    new: list[Revocation] = []
    for ref, intent in zip(refs, intents, strict=True):
        if ref in known:
            outcomes.append(Outcome(known[ref], changed=False))
            continue
        record, reason = intent.record, rule_for(intent.cause).reason
        assert reason is not None, f"{intent.cause} revokes nothing"
        revocation = Revocation(
            issuer_key_id=record.issuer_key_id, serial=record.serial, kind=record.kind,
            resident_code=record.resident_code, card_id=record.card_id,
            partition=record.partition, not_after=record.not_after, reason=reason,
            cause=intent.cause, cause_ref=intent.cause_ref, operator=intent.operator,
            revoked_at=now, invalidity_date=_clamp(intent.invalidity_date, record, now))
        known[ref] = revocation
        new.append(revocation)
        outcomes.append(Outcome(revocation, changed=True))
    if new:
        session.execute(insert(RevocationEntry), [r.values() for r in new])
    return outcomes


def _clamp(value: datetime | None, record: CertificateRecord, now: datetime) -> datetime | None:
    """An invalidity date no earlier than notBefore and no later than the revocation."""
    if value is None:
        return None
    return min(max(value, record.not_before), now)


def start_of_day_jst(day: date) -> datetime:
    return datetime.combine(day, time(0), JST).astimezone(UTC)


def former_codes(session: Session, codes: Iterable[str]) -> dict[str, set[str]]:
    """For each code reachable from ``codes`` through re-links, the codes it directly replaced."""
    replaced: dict[str, set[str]] = {}
    frontier = set(codes)
    seen = set(frontier)
    while frontier:
        rows: list[CodeLink] = []
        for chunk in _chunks(sorted(frontier)):
            rows += session.scalars(select(CodeLink).where(CodeLink.resident_code.in_(chunk)))
        frontier = set()
        for row in rows:
            replaced.setdefault(row.resident_code, set()).add(row.previous_code)
            if row.previous_code not in seen:
                seen.add(row.previous_code)
                frontier.add(row.previous_code)
    return replaced


def all_codes(code: str, replaced: dict[str, set[str]]) -> set[str]:
    """``code`` and every code it replaced, directly or not."""
    found, todo = {code}, [code]
    while todo:
        for previous in replaced.get(todo.pop(), ()):
            if previous not in found:
                found.add(previous)
                todo.append(previous)
    return found


# -- the service ----------------------------------------------------------------------------------


class RevocationService:
    """Revocation by request (holder, card loss, renewal, CA compromise) and status lookup.

    ``listeners`` are called after each commit with the newly revoked certificates (the OCSP
    cache and the CRL publisher use this to react within a second).
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Clock,
                 directory: CertificateDirectory, listeners: Sequence[Listener] = ()) -> None:
        self._sessions = sessions
        self._clock = clock
        self._directory = directory
        self.listeners = list(listeners)

    def revoke(self, ref: CertRef, cause: Cause, *, operator: str | None = None,
               cause_ref: str | None = None, invalidity_date: datetime | None = None) -> Outcome:
        """Revoke one certificate for ``cause`` (its reason comes from the rule table)."""
        if rule_for(cause).reason is None:
            raise InvalidRequest(f"{cause.value} revokes nothing", cause=cause.value)
        record = self._find(ref)
        (outcome,) = self._apply([_Intent(record, cause, cause_ref, operator, invalidity_date)])
        return outcome

    def request(self, refs: Sequence[CertRef], *, key_compromise: bool = False,
                operator: str | None = None, request_id: str | None = None,
                invalidity_date: datetime | None = None) -> list[Outcome]:
        """The holder's request: the chosen certificates, ``keyCompromise`` if the holder
        reports a leaked key, else ``unspecified``."""
        if not refs:
            raise InvalidRequest("name at least one certificate")
        cause = Cause.KEY_COMPROMISE if key_compromise else Cause.HOLDER_REQUEST
        records = [self._find(ref) for ref in refs]
        for record in records:
            if record.kind not in HOLDER_KINDS:
                raise InvalidRequest("a holder may revoke only signing or authentication "
                                     "certificates", serial=str(record.serial))
        return self._apply([_Intent(r, cause, request_id, operator, invalidity_date)
                            for r in records])

    def card_lost(self, card_id: str, *, operator: str | None = None,
                  request_id: str | None = None, lost_at: datetime | None = None
                  ) -> list[Outcome]:
        """Both certificates on a lost card go on ``certificateHold`` (never released)."""
        now = self._clock.now()
        kinds = holder_kinds(Scope.CARD)
        records = [r for r in self._directory.by_card(card_id)
                   if r.kind in kinds and r.not_after > now]
        if not records:
            raise UnknownCertificate("no live certificate on this card", card_id=card_id)
        return self._apply([_Intent(r, Cause.CARD_LOST, request_id or card_id, operator, lost_at)
                            for r in records])

    def supersede(self, replacement: CertRef, *, operator: str | None = None) -> list[Outcome]:
        """Renewal: the holder's other live certificates of the replacement's kind, issued
        before it, are ``superseded``."""
        new = self._find(replacement)
        if new.kind not in HOLDER_KINDS or new.resident_code is None:
            raise InvalidRequest("only a holder's certificate replaces another")
        with self._sessions() as session:
            codes = all_codes(new.resident_code, former_codes(session, [new.resident_code]))
        now = self._clock.now()
        old = [r for r in self._directory.by_holder(sorted(codes))
               if r.kind == new.kind and r.not_after > now and r.not_before <= new.not_before
               and (r.issuer_key_id, r.serial) != (new.issuer_key_id, new.serial)]
        return self._apply([_Intent(r, Cause.RENEWAL, str(replacement), operator, None)
                            for r in old])

    def ca_compromise(self, issuer_key_id: str, *, operator: str | None = None,
                      invalidity_date: datetime | None = None, batch: int = 5000) -> int:
        """Every live certificate of a generation, ``cACompromise``; returns how many were
        newly revoked (in transactions of ``batch`` certificates: re-run after a crash)."""
        now = self._clock.now()
        count = 0
        pending: list[_Intent] = []
        for record in self._directory.by_issuer(issuer_key_id):
            if record.not_after > now:
                pending.append(_Intent(record, Cause.CA_COMPROMISE, issuer_key_id, operator,
                                       invalidity_date))
            if len(pending) >= batch:
                count += sum(o.changed for o in self._apply(pending))
                pending = []
        if pending:
            count += sum(o.changed for o in self._apply(pending))
        return count

    def status(self, issuer_key_id: str, serial: int) -> Status:
        """good / revoked (with the revocation) / unknown (never issued)."""
        with self._sessions() as session:
            revocation = revocation_of(session, issuer_key_id, serial)
        record = self._directory.find(issuer_key_id, serial)
        if revocation is not None:
            return Status(CertStatus.REVOKED, record, revocation)
        if record is None:
            return Status(CertStatus.UNKNOWN, None, None)
        return Status(CertStatus.GOOD, record, None)

    def _find(self, ref: CertRef) -> CertificateRecord:
        record = self._directory.find(ref.issuer_key_id, ref.serial)
        if record is None:
            raise UnknownCertificate(f"no certificate {ref} was issued",
                                     issuer_key_id=ref.issuer_key_id, serial=str(ref.serial))
        return record

    def _apply(self, intents: Sequence[_Intent]) -> list[Outcome]:
        """Record ``intents`` in one transaction (retried once if a concurrent writer revoked
        one of them first), then tell the listeners."""
        for attempt in (1, 2):
            try:
                with self._sessions() as session, session.begin():
                    outcomes = _write(session, intents, self._clock.now())
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        _notify(self.listeners, [o.revocation for o in outcomes if o.changed])
        return outcomes


def _notify(listeners: Sequence[Listener], revoked: Sequence[Revocation]) -> None:
    """Tell each listener; a failing one is logged, not raised: the revocations are committed,
    and what listeners keep (pre-signed responses, CRLs) is checked against them anyway."""
    if revoked:
        for listener in listeners:
            try:
                listener(revoked)
            except Exception:
                log.exception("a revocation listener failed")


# -- the notice consumer --------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """What one pass of the consumer did."""

    read: int
    applied: int  # notices applied now
    skipped: int  # notices applied before (a replay)
    revoked: tuple[Revocation, ...]


class NoticeConsumer:
    """Reads the notice feed with a cursor and applies each notice exactly once.

    The revocations of a batch, the notices marked applied (by notice id) and the advanced
    cursor commit in one transaction: a crash anywhere loses nothing, and a replay (a cursor
    set back, a feed read twice) changes nothing. Only one consumer advances a cursor at a
    time; a second one that read the same batch finds the cursor moved and retries.
    """

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, feed: NoticeFeed,
                 directory: CertificateDirectory, *, name: str = CONSUMER,
                 listeners: Sequence[Listener] = ()) -> None:
        self._sessions = sessions
        self._clock = clock
        self._feed = feed
        self._directory = directory
        self.name = name
        self.listeners = list(listeners)

    def position(self) -> int:
        with self._sessions() as session:
            cursor = session.get(RevocationCursor, self.name)
            return cursor.last_seq if cursor else 0

    def drain(self, limit: int = 500) -> int:
        """Apply notices until the feed has no more; returns how many were applied."""
        applied = 0
        while (batch := self.run_once(limit)).read:
            applied += batch.applied
        return applied

    def run_once(self, limit: int = 500) -> Batch:
        """Read and apply at most ``limit`` notices after the cursor (once more if a concurrent
        writer revoked one of the same certificates first)."""
        for attempt in (1, 2):
            try:
                return self._run(limit)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _run(self, limit: int) -> Batch:
        after = self.position()
        notices = self._feed.read(after, limit)
        if not notices:
            return Batch(0, 0, 0, ())
        codes = {n.resident_code for n in notices}
        codes |= {n.previous_resident_code for n in notices if n.previous_resident_code}
        with self._sessions() as session:
            replaced = former_codes(session, codes)
        reach = set(codes).union(*replaced.values()) if replaced else set(codes)
        by_code: dict[str, list[CertificateRecord]] = {}
        for record in self._directory.by_holder(sorted(reach)):
            if record.resident_code is not None:
                by_code.setdefault(record.resident_code, []).append(record)
        with self._sessions() as session, session.begin():
            cursor = session.scalars(select(RevocationCursor).where(
                RevocationCursor.name == self.name).with_for_update()).first()
            if (cursor.last_seq if cursor else 0) != after:
                return Batch(len(notices), 0, 0, ())  # another consumer moved on: read again
            now = self._clock.now()
            if cursor is None:
                cursor = RevocationCursor(name=self.name, last_seq=0, updated_at=now)
                session.add(cursor)
            done: set[str] = set()
            for chunk in _chunks([n.notice_id for n in notices]):
                done.update(session.scalars(select(AppliedNotice.notice_id).where(
                    AppliedNotice.notice_id.in_(chunk))))
            fresh = [n for n in notices if n.notice_id not in done]
            intents: list[_Intent] = []
            for notice in fresh:
                if rule_for(NOTICE_CAUSES[notice.kind]).scope is Scope.NONE:
                    self._relink(session, notice, replaced, now)
                else:
                    intents += _targets(notice, replaced, by_code, now)
            outcomes = _write(session, intents, now)
            counts: dict[str, int] = {}
            for outcome in outcomes:
                if outcome.changed and outcome.revocation.cause_ref:
                    ref = outcome.revocation.cause_ref
                    counts[ref] = counts.get(ref, 0) + 1
            if fresh:
                session.execute(insert(AppliedNotice), [
                    {"notice_id": n.notice_id, "seq": n.seq, "kind": n.kind.value,
                     "resident_code": n.resident_code, "effective_on": n.effective_on,
                     "revoked": counts.get(n.notice_id, 0), "applied_at": now}
                    for n in fresh])
            cursor.last_seq = notices[-1].seq
            cursor.updated_at = now
        revoked = tuple(o.revocation for o in outcomes if o.changed)
        _notify(self.listeners, revoked)
        return Batch(len(notices), len(fresh), len(notices) - len(fresh), revoked)

    @staticmethod
    def _relink(session: Session, notice: Notice, replaced: dict[str, set[str]],
                now: datetime) -> None:
        """Record that ``previous_resident_code`` is now ``resident_code``."""
        previous = notice.previous_resident_code
        if not previous or previous == notice.resident_code:
            return
        if session.get(CodeLink, previous) is None:
            session.add(CodeLink(previous_code=previous, resident_code=notice.resident_code,
                                 notice_id=notice.notice_id, linked_at=now))
            session.flush()
        replaced.setdefault(notice.resident_code, set()).add(previous)


def _targets(notice: Notice, replaced: dict[str, set[str]],
             by_code: dict[str, list[CertificateRecord]], now: datetime) -> list[_Intent]:
    """The certificates a notice revokes (see the module docstring), oldest code first."""
    cause = NOTICE_CAUSES[notice.kind]
    kinds = holder_kinds(rule_for(cause).scope)
    invalid_from = start_of_day_jst(notice.effective_on)
    return [_Intent(record, cause, notice.notice_id, None, invalid_from)
            for code in sorted(all_codes(notice.resident_code, replaced))
            for record in by_code.get(code, ())
            if record.kind in kinds and record.not_before <= notice.created_at
            and record.not_after > now]
