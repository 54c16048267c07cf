"""Wide-area copies (住民票の写しの広域交付): any municipality issues a copy of any record.

The issuing municipality asks the resident's home municipality, through its CS, for the record's
current items; here every register shares one database, so the home CS's answer is the home
register's current snapshot. The copy is the nationwide form: it never carries the domicile, the
domicile head, the resident code or the individual number (住民基本台帳法 §12の4).

Issuing at the home municipality itself is allowed: the copy is then an ordinary copy on the same
form (``wide_area`` is false), and only the ``copy.issue`` entry is logged, since there is no
other end. A removed record (除票) is copied, marked as such, when no active record holds the
resident code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import audit
from jukibridge.codes import validate_municipality_code, validate_resident_code
from jukibridge.errors import NotFound, PermissionDenied
from jukibridge.records import HEAD, ChangeKind, RecordState, ResidentRecord, Role, Sex
from jukibridge.register import JST
from jukibridge.tables import Municipality, Operator, Person, RegisterSettings, Snapshot
from pki.clock import Clock
from pki.eras import PartialDate

ISSUING_ROLES = frozenset({Role.CLERK, Role.SUPERVISOR})


@dataclass(frozen=True)
class WideAreaCopy:
    """The items of one issued copy, and who issued it where and when."""

    copy_id: int  # the audit entry id of its issuance: the copy's number
    issuing_code: str
    issuing_name: str  # prefecture + municipality, e.g. 神奈川県平塚市
    home_code: str
    home_name: str
    issued_at: datetime  # JST
    operator: str
    removed: bool  # a copy of a removed record (除票)
    name: str
    name_kana: str
    birth_date: PartialDate
    sex: Sex
    address: str
    head_name: str | None
    relationship: str
    became_resident_on: PartialDate
    address_fixed_on: PartialDate
    address_notified_on: date | None
    previous_address: str | None
    removal_reason: ChangeKind | None
    removed_on: date | None

    @property
    def wide_area(self) -> bool:
        return self.issuing_code != self.home_code

    @property
    def issued_on(self) -> date:
        return self.issued_at.date()


def issue_copy(sessions: sessionmaker[Session], clock: Clock, *, at: str, resident_code: str,
               operator: str) -> WideAreaCopy:
    """Issue a copy of the record of ``resident_code`` at municipality ``at``, in one transaction.

    Raises ``InvalidInput`` for a malformed code, ``NotFound`` when ``at`` keeps no register here
    or no record holds the code, ``PermissionDenied`` unless ``operator`` is an active clerk or
    supervisor of ``at``. Nothing changes when it raises.
    """
    at = validate_municipality_code(at)
    code = validate_resident_code(resident_code)
    now = clock.now()
    with sessions() as session, session.begin():
        issuing = _register_municipality(session, at)
        _check_operator(session, operator, at)
        person = _home_person(session, code)
        row = session.get(Snapshot, (person.person_id, person.current_seq))
        assert row is not None
        record = ResidentRecord.from_row(row)
        home = session.get(Municipality, person.municipality_code)
        assert home is not None
        wide_area = at != person.municipality_code
        copy_id = audit.record(session, clock, actor=operator, action="copy.issue",
                               target=f"person:{person.person_id}", municipality_code=at,
                               details={"home": person.municipality_code,
                                        "wide_area": wide_area})
        if wide_area:
            audit.record(session, clock, actor=operator, action="copy.provide",
                         target=f"person:{person.person_id}",
                         municipality_code=person.municipality_code,
                         details={"to": at, "copy": copy_id})
        return WideAreaCopy(
            copy_id=copy_id, issuing_code=at, issuing_name=issuing.prefecture + issuing.name,
            home_code=home.code, home_name=home.prefecture + home.name,
            issued_at=now.astimezone(JST), operator=operator,
            removed=record.state is RecordState.REMOVED, name=record.name,
            name_kana=record.name_kana, birth_date=record.birth_date, sex=record.sex,
            address=record.address, head_name=_head_name(session, row),
            relationship=record.relationship, became_resident_on=record.became_resident_on,
            address_fixed_on=record.address_fixed_on,
            address_notified_on=record.address_notified_on,
            previous_address=record.previous_address, removal_reason=record.removal_reason,
            removed_on=record.removed_on)


def _register_municipality(session: Session, code: str) -> Municipality:
    municipality = session.get(Municipality, code)
    if municipality is None or session.get(RegisterSettings, code) is None:
        raise NotFound(f"municipality {code} keeps no register here", municipality_code=code)
    return municipality


def _check_operator(session: Session, login: str, municipality_code: str) -> None:
    operator = session.get(Operator, login)
    if operator is None or not operator.active or (
            operator.municipality_code != municipality_code):
        raise PermissionDenied(f"{login} is not an operator of this municipality")
    if Role(operator.role) not in ISSUING_ROLES:
        raise PermissionDenied(f"a {operator.role} may not issue copies")


def _home_person(session: Session, code: str) -> Person:
    """The active record holding ``code`` anywhere, else its latest removed record."""
    person = session.scalars(
        select(Person).where(Person.resident_code == code)
        .order_by((Person.state == RecordState.ACTIVE.value).desc(), Person.person_id.desc())
        .limit(1)).first()
    if person is None:
        raise NotFound(f"no record holds resident code {code}", resident_code=code)
    return person


def _head_name(session: Session, row: Snapshot) -> str | None:
    """The name of the head of the record's household (an active head preferred)."""
    if row.relationship == HEAD:
        return row.name
    if row.household_id is None:
        return None
    return session.scalar(
        select(Snapshot.name)
        .join(Person, (Person.person_id == Snapshot.person_id)
              & (Person.current_seq == Snapshot.seq))
        .where(Person.household_id == row.household_id, Snapshot.relationship == HEAD)
        .order_by((Person.state == RecordState.ACTIVE.value).desc(), Person.person_id.desc())
        .limit(1))
