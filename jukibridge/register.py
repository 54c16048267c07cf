"""The register service: enter a change as a draft, commit or reject it, read records.

Every public method is one transaction: it commits whole or changes nothing. A draft is
checked in full when entered (the procedure runs inside a savepoint that is rolled back) and
again when committed, since the register may have moved on in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import Text, and_, bindparam, cast, exists, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import audit, cs
from jukibridge.change_requests import Birth, ChangeRequest, from_json, to_json
from jukibridge.codes import validate_resident_code
from jukibridge.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from jukibridge.numbering import CodeIssuer
from jukibridge.procedures import PROCEDURES, ApplyContext, Outcome
from jukibridge.records import ChangeKind, ChangeStatus, RecordState, ResidentRecord, Role
from jukibridge.tables import Change, Municipality, Operator, Person, RegisterSettings, Snapshot
from pki.clock import Clock

JST = timezone(timedelta(hours=9), "JST")
_SNAPSHOTS = Snapshot.__table__
_PERSONS = Person.__table__
_OPERATORS = Operator.__table__
# Statements of the hot read path, built once (building them costs more than running them).
_OPERATOR = (select(_OPERATORS.c.role, _OPERATORS.c.active, _OPERATORS.c.municipality_code)
             .where(_OPERATORS.c.login == bindparam("login")))
_OPERATOR_ROLE = (
    select(_OPERATORS.c.role)
    .where(_OPERATORS.c.login == bindparam("login"), _OPERATORS.c.active.is_(True),
           _OPERATORS.c.municipality_code == bindparam("municipality"))
    .scalar_subquery().label("operator_role"))
_CURRENT_SNAPSHOT = (
    select(_SNAPSHOTS, _OPERATOR_ROLE)
    .join(_PERSONS, and_(_PERSONS.c.person_id == _SNAPSHOTS.c.person_id,
                         _PERSONS.c.current_seq == _SNAPSHOTS.c.seq))
    .where(_PERSONS.c.resident_code == bindparam("code"),
           _PERSONS.c.municipality_code == bindparam("municipality"))
    .order_by((_PERSONS.c.state == RecordState.ACTIVE.value).desc(),
              _PERSONS.c.person_id.desc())
    .limit(1))
# PostgreSQL's one-statement audited read (``Register._viewed``): the audit entry's target
# ``person:<id>`` and its hashed body are completed in SQL with the person id it found.
_FOUND = _CURRENT_SNAPSHOT.cte("found")
_FOUND_ID = cast(select(_FOUND.c.person_id).scalar_subquery(), Text)
_VIEW_TARGET = literal("person:", Text) + _FOUND_ID
_VIEW_REST = (bindparam("rest_head", type_=Text) + _FOUND_ID
              + bindparam("rest_tail", type_=Text))
_VIEWED = select(_FOUND).add_cte(audit.append_from(
    audit.advance_head(_VIEW_REST, where=exists().where(_FOUND.c.operator_role.is_not(None))),
    target=_VIEW_TARGET).cte("appended"))
# A move-out may be notified up to 14 days before the move (住民基本台帳法施行令 §23); we allow
# a little more for the counter's convenience.
ADVANCE_NOTICE = {
    ChangeKind.MOVE_OUT: timedelta(days=30),
    ChangeKind.EMIGRATION: timedelta(days=30),
}


@dataclass(frozen=True)
class DraftView:
    """A change as listed for review."""

    change_id: int
    kind: ChangeKind
    status: ChangeStatus
    effective_on: date
    notified_on: date | None
    entered_by: str
    entered_at: datetime
    committed_by: str | None
    request: ChangeRequest
    remarks: str


class Register:
    """One municipality's resident register."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock,
                 municipality_code: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self.municipality_code = municipality_code
        with sessions() as session:
            settings = session.get(RegisterSettings, municipality_code)
            municipality = session.get(Municipality, municipality_code)
            if settings is None or municipality is None:
                raise NotFound(f"municipality {municipality_code} keeps no register here",
                               municipality_code=municipality_code)
            self.address_prefix = municipality.prefecture + municipality.name
            self.municipality_name = municipality.name
            self._supervisor_kinds = frozenset(
                ChangeKind[k] for k in settings.supervisor_kinds.split(",") if k)

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def today(self) -> date:
        """Today in Japan, the calendar the register's dates are in."""
        return self._clock.now().astimezone(JST).date()

    def check_operator(self, operator: str, *roles: Role) -> Role:
        """Raise ``PermissionDenied`` unless ``operator`` is an active operator of this
        municipality with one of ``roles``; returns the role."""
        with self._sessions() as session:
            return self._operator(session, operator, *roles)

    def needs_supervisor(self, kind: ChangeKind) -> bool:
        return kind in self._supervisor_kinds

    # -- changes -------------------------------------------------------------------------------

    def enter(self, operator: str, request: ChangeRequest, *, effective_on: date | None = None,
              notified_on: date | None = None, remarks: str = "") -> int:
        """Enter a change as a draft (仮登録) after checking it in full; returns its id."""
        with self._transaction() as session:
            self._operator(session, operator, Role.CLERK, Role.SUPERVISOR)
            effective_on = effective_on or self._default_effective_on(request)
            self._check_dates(request.kind, effective_on, notified_on)
            change = Change(municipality_code=self.municipality_code, kind=request.kind.name,
                            status=ChangeStatus.DRAFT.value, payload=to_json(request),
                            effective_on=effective_on, notified_on=notified_on,
                            remarks=remarks.strip()[:500], entered_by=operator,
                            entered_at=self._clock.now())
            session.add(change)
            session.flush()
            savepoint = session.begin_nested()
            try:
                self._apply(session, change, request, operator)
            finally:
                savepoint.rollback()
            audit.record(session, self._clock, actor=operator, action="change.enter",
                         target=f"change:{change.change_id}",
                         municipality_code=self.municipality_code,
                         details={"kind": request.kind.name})
            return change.change_id

    def commit(self, operator: str, change_id: int) -> Outcome:
        """Commit a draft (本登録): apply its procedure and append the snapshots."""
        with self._transaction() as session:
            role = self._operator(session, operator, Role.CLERK, Role.SUPERVISOR)
            change = self._draft(session, change_id)
            kind = ChangeKind[change.kind]
            if self.needs_supervisor(kind):
                if role is not Role.SUPERVISOR:
                    raise PermissionDenied(f"a {kind.name} is committed by a supervisor",
                                           change_id=change_id)
                if change.entered_by == operator:
                    raise PermissionDenied(f"a {kind.name} is committed by a second operator",
                                           change_id=change_id)
            outcome = self._apply(session, change, from_json(change.payload), operator)
            change.status = ChangeStatus.COMMITTED.value
            change.committed_by = operator
            change.committed_at = self._clock.now()
            cs.emit(session, self._clock, change, outcome.person_ids)
            audit.record(session, self._clock, actor=operator, action="change.commit",
                         target=f"change:{change_id}", municipality_code=self.municipality_code,
                         details={"kind": kind.name, "persons": outcome.person_ids})
            return outcome

    def receive(self, session: Session, request: ChangeRequest, *, actor: str,
                effective_on: date | None = None) -> Outcome:
        """Commit a change that arrived through the CS network (e.g. a move-in notice), in the
        caller's transaction. No operator: ``actor`` names the sending CS."""
        now = self._clock.now()
        change = Change(municipality_code=self.municipality_code, kind=request.kind.name,
                        status=ChangeStatus.COMMITTED.value, payload=to_json(request),
                        effective_on=effective_on or self._default_effective_on(request),
                        notified_on=None, remarks="", entered_by=actor, entered_at=now,
                        committed_by=actor, committed_at=now)
        session.add(change)
        session.flush()
        outcome = self._apply(session, change, request, actor)
        cs.emit(session, self._clock, change, outcome.person_ids)
        audit.record(session, self._clock, actor=actor, action="change.receive",
                     target=f"change:{change.change_id}",
                     municipality_code=self.municipality_code,
                     details={"kind": request.kind.name, "persons": outcome.person_ids})
        return outcome

    def reject(self, operator: str, change_id: int, reason: str = "") -> None:
        """Reject a draft: it leaves no trace but its audit entry."""
        with self._transaction() as session:
            self._operator(session, operator, Role.CLERK, Role.SUPERVISOR)
            change = self._draft(session, change_id)
            audit.record(session, self._clock, actor=operator, action="change.reject",
                         target=f"change:{change_id}", municipality_code=self.municipality_code,
                         details={"kind": change.kind, "reason": reason.strip()[:200]})
            session.delete(change)

    def perform(self, operator: str, request: ChangeRequest, *,
                effective_on: date | None = None, notified_on: date | None = None,
                remarks: str = "") -> Outcome:
        """Enter and commit in one transaction, for kinds that need no second operator."""
        if self.needs_supervisor(request.kind):
            raise PermissionDenied(f"a {request.kind.name} needs a supervisor's commit: enter "
                                   "it as a draft")
        with self._transaction() as session:
            self._operator(session, operator, Role.CLERK, Role.SUPERVISOR)
            effective_on = effective_on or self._default_effective_on(request)
            self._check_dates(request.kind, effective_on, notified_on)
            now = self._clock.now()
            change = Change(municipality_code=self.municipality_code, kind=request.kind.name,
                            status=ChangeStatus.COMMITTED.value, payload=to_json(request),
                            effective_on=effective_on, notified_on=notified_on,
                            remarks=remarks.strip()[:500], entered_by=operator,
                            entered_at=now, committed_by=operator, committed_at=now)
            session.add(change)
            session.flush()
            outcome = self._apply(session, change, request, operator)
            cs.emit(session, self._clock, change, outcome.person_ids)
            audit.record(session, self._clock, actor=operator, action="change.perform",
                         target=f"change:{change.change_id}",
                         municipality_code=self.municipality_code,
                         details={"kind": request.kind.name, "persons": outcome.person_ids})
            return outcome

    def drafts(self) -> list[DraftView]:
        """Drafts waiting for commit, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(select(Change).where(
                Change.municipality_code == self.municipality_code,
                Change.status == ChangeStatus.DRAFT.value).order_by(Change.change_id)).all()
            return [self._view(row) for row in rows]

    def change(self, change_id: int) -> DraftView:
        with self._sessions() as session:
            row = session.get(Change, change_id)
            if row is None or row.municipality_code != self.municipality_code:
                raise NotFound(f"no change {change_id}", change_id=change_id)
            return self._view(row)

    # -- reading -------------------------------------------------------------------------------

    def record(self, resident_code: str, *, operator: str) -> ResidentRecord:
        """The current record of a resident (or their removed record, 除票).

        The counter's most frequent read, so it runs as few Core statements as it can: one
        indexed join that also checks the operator, then the audit entry. On PostgreSQL both
        are one statement in its own transaction (see ``_viewed``).
        """
        code = validate_resident_code(resident_code)
        fast = self._viewed(code, operator)
        if fast is not None:
            return fast
        with self._transaction() as session:
            conn = session.connection()
            row = conn.execute(_CURRENT_SNAPSHOT, {
                "code": code, "municipality": self.municipality_code, "login": operator}).first()
            if row is None or row.operator_role is None:
                self._operator(session, operator, *Role)
            if row is None:  # perhaps a former resident code
                person = self._person(session, code)
                row = session.execute(select(_SNAPSHOTS).where(
                    _SNAPSHOTS.c.person_id == person.person_id,
                    _SNAPSHOTS.c.seq == person.current_seq)).one()
            audit.record(session, self._clock, actor=operator, action="record.view",
                         target=f"person:{row.person_id}",
                         municipality_code=self.municipality_code)
            return ResidentRecord.from_row(row)

    def _viewed(self, code: str, operator: str) -> ResidentRecord | None:
        """PostgreSQL's one-round-trip read: the record, the operator check and the audit
        entry in one autocommit statement (an entry is appended only when the operator may
        read and the record exists). None when the slow path must decide: another backend,
        no such current resident code, or an operator who may not read."""
        if self._sessions.kw.get("bind") is None:
            return None
        engine = self._sessions.kw["bind"]
        if engine.dialect.name != "postgresql":
            return None
        pending = audit.Pending.of(self._clock, actor=operator, action="record.view",
                                   target="person:0",
                                   municipality_code=self.municipality_code)
        head, tail = pending.rest().split('"person:0"')
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(_VIEWED, {
                **pending.values(), "code": code, "municipality": self.municipality_code,
                "login": operator, "rest_head": head + '"person:', "rest_tail": '"' + tail,
            }).first()
        if row is None or row.operator_role is None:
            return None
        return ResidentRecord.from_row(row)

    def history(self, resident_code: str, *, operator: str) -> list[ResidentRecord]:
        """Every snapshot of a resident, oldest first."""
        with self._transaction() as session:
            self._operator(session, operator, *Role)
            person = self._person(session, resident_code)
            rows = session.scalars(select(Snapshot).where(
                Snapshot.person_id == person.person_id).order_by(Snapshot.seq)).all()
            audit.record(session, self._clock, actor=operator, action="record.history",
                         target=f"person:{person.person_id}",
                         municipality_code=self.municipality_code)
            return [ResidentRecord.from_row(r) for r in rows]

    def household(self, household_id: int, *, operator: str) -> list[ResidentRecord]:
        """Current members of a household, head first."""
        with self._transaction() as session:
            self._operator(session, operator, *Role)
            persons = session.scalars(select(Person).where(
                Person.household_id == household_id, Person.state == RecordState.ACTIVE.value,
                Person.municipality_code == self.municipality_code)).all()
            if not persons:
                raise NotFound(f"no household {household_id}", household_id=household_id)
            audit.record(session, self._clock, actor=operator, action="household.view",
                         target=f"household:{household_id}",
                         municipality_code=self.municipality_code)
            records = [ResidentRecord.from_row(s) for s in (
                session.get(Snapshot, (p.person_id, p.current_seq)) for p in persons) if s]
            return sorted(records, key=lambda r: (not r.is_head, r.birth_date.code))

    def search(self, *, operator: str, name_kana: str | None = None,
               birth_date: str | None = None, include_removed: bool = False,
               limit: int = 50) -> list[ResidentRecord]:
        """Find residents by the start of the kana name and/or the birth date."""
        from jukibridge.kana import normalise_kana
        from pki.eras import PartialDate

        with self._transaction() as session:
            self._operator(session, operator, *Role)
            query = select(Person).where(Person.municipality_code == self.municipality_code)
            if name_kana:
                query = query.where(Person.name_kana.startswith(normalise_kana(name_kana)))
            if birth_date:
                query = query.where(Person.birth_date == PartialDate.parse(birth_date).code)
            if not name_kana and not birth_date:
                raise InvalidInput("give a kana name or a birth date", field="name_kana")
            if not include_removed:
                query = query.where(Person.state == RecordState.ACTIVE.value)
            persons = session.scalars(query.order_by(Person.name_kana).limit(limit)).all()
            audit.record(session, self._clock, actor=operator, action="record.search",
                         municipality_code=self.municipality_code,
                         details={"results": len(persons)})
            return [ResidentRecord.from_row(s) for s in (
                session.get(Snapshot, (p.person_id, p.current_seq)) for p in persons) if s]

    # -- internals -----------------------------------------------------------------------------

    def _apply(self, session: Session, change: Change, request: ChangeRequest,
               operator: str) -> Outcome:
        ctx = ApplyContext(session=session, clock=self._clock,
                           municipality_code=self.municipality_code, change=change,
                           operator=operator,
                           issuer=CodeIssuer(session, self._clock, self.municipality_code),
                           outcome=Outcome(change.change_id), address_prefix=self.address_prefix,
                           clock_today=self.today())
        try:
            PROCEDURES[request.kind](ctx, request)
            session.flush()
        except IntegrityError as exc:
            raise Conflict("the change conflicts with the register (a resident code would be "
                           "active twice)") from exc
        return ctx.outcome

    def _default_effective_on(self, request: ChangeRequest) -> date:
        if isinstance(request, Birth) and request.birth_date.is_complete:
            return request.birth_date.as_date()
        return self.today()

    def _check_dates(self, kind: ChangeKind, effective_on: date, notified_on: date | None
                     ) -> None:
        today = self.today()
        if effective_on > today + ADVANCE_NOTICE.get(kind, timedelta(0)):
            raise InvalidInput("the effective date is too far in the future",
                               field="effective_on")
        if notified_on is not None and notified_on > today:
            raise InvalidInput("the notification date is in the future", field="notified_on")

    def _operator(self, session: Session, login: str, *roles: Role) -> Role:
        operator = session.connection().execute(_OPERATOR, {"login": login}).first()
        if operator is None or not operator.active or (
                operator.municipality_code != self.municipality_code):
            raise PermissionDenied(f"{login} is not an operator of this municipality")
        role = Role(operator.role)
        if role not in roles:
            raise PermissionDenied(f"a {role.value} may not do this")
        return role

    def _draft(self, session: Session, change_id: int) -> Change:
        change = session.get(Change, change_id, with_for_update=True)
        if change is None or change.municipality_code != self.municipality_code:
            raise NotFound(f"no change {change_id}", change_id=change_id)
        if change.status != ChangeStatus.DRAFT.value:
            raise Conflict(f"change {change_id} is not a draft", change_id=change_id)
        return change

    def _person(self, session: Session, resident_code: str) -> Person:
        code = validate_resident_code(resident_code)
        persons = session.scalars(select(Person).where(
            Person.resident_code == code, Person.municipality_code == self.municipality_code)
            .order_by(Person.person_id.desc())).all()
        if not persons:
            # A resident code may have been changed: look in the history for the old code.
            person_id = session.scalar(select(Snapshot.person_id).where(
                Snapshot.resident_code == code,
                Snapshot.municipality_code == self.municipality_code).limit(1))
            person = session.get(Person, person_id) if person_id is not None else None
            if person is None:
                raise NotFound(f"no resident {code} in this municipality", resident_code=code)
            return person
        active = [p for p in persons if p.state == RecordState.ACTIVE.value]
        return active[0] if active else persons[0]

    def _view(self, row: Change) -> DraftView:
        return DraftView(change_id=row.change_id, kind=ChangeKind[row.kind],
                         status=ChangeStatus(row.status), effective_on=row.effective_on,
                         notified_on=row.notified_on, entered_by=row.entered_by,
                         entered_at=row.entered_at, committed_by=row.committed_by,
                         request=from_json(row.payload), remarks=row.remarks)
