"""Provision of identity info (本人確認情報の提供) to agencies, and its disclosure to residents.

The national server answers an agency only for a purpose of the table of statutory purposes
(住民基本台帳法 第30条の9 and following, with the agencies and tasks of its 別表), only for that
agency's own purposes, and only from its own store (``NationalIdentity``). Every request is
logged, refused ones included. Private parties never receive a resident code (the law forbids
them its use) nor an individual number, and may not look a resident up by code. Individual
numbers are given only for purposes that allow them and never written in full to the log.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge.codes import mask_individual_number, validate_resident_code
from jukibridge.errors import InvalidInput, NotFound, PermissionDenied, RegisterError
from jukibridge.kana import normalise_name
from jukibridge.provision_tables import ProvisionLogEntry, ProvisionPurpose
from jukibridge.records import Sex
from jukibridge.tier_tables import NationalIdentity
from pki.clock import Clock
from pki.eras import DateError, PartialDate

# Identity items an answer may carry, in display order.
ITEMS = (
    "resident_code", "individual_number", "name", "former_surname", "alias", "birth_date",
    "sex", "address", "municipality_code", "removed", "change_reason", "changed_on",
)
MAX_MATCHES = 20  # a basic-four search that matches more is ambiguous anyway


class AgencyKind(Enum):
    """Who receives the info; decides whether codes may be given."""

    NATIONAL = "national"  # 国の機関又は法人 (別表第一)
    LOCAL = "local"  # 地方公共団体の執行機関 (別表第二から第四)
    PRIVATE = "private"  # a private party: never a resident code nor an individual number


class Outcome(Enum):
    PROVIDED = "provided"
    REFUSED = "refused"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"


class Lookup(Enum):
    RESIDENT_CODE = "resident_code"
    BASIC_FOUR = "basic_four"


@dataclass(frozen=True)
class Purpose:
    """One row of the table of statutory purposes."""

    purpose_id: str
    agency: str
    agency_name: str
    agency_kind: AgencyKind
    task: str
    legal_basis: str
    individual_number: bool  # whether the individual number may be given

    @classmethod
    def from_row(cls, row: ProvisionPurpose) -> Purpose:
        return cls(purpose_id=row.purpose_id, agency=row.agency, agency_name=row.agency_name,
                   agency_kind=AgencyKind(row.agency_kind), task=row.task,
                   legal_basis=row.legal_basis, individual_number=row.individual_number)


@dataclass(frozen=True)
class BasicFourQuery:
    """A search by the basic four: name and birth date at least, sex and address to narrow."""

    name: str
    birth_date: str  # any form PartialDate.parse reads (1990-05-03, 平成2年5月3日, EYYYYMMDD)
    sex: int | None = None
    address: str | None = None


@dataclass(frozen=True)
class IdentityAnswer:
    """The identity info given to an agency (codes are ``None`` when not given)."""

    resident_code: str | None
    individual_number: str | None
    name: str
    former_surname: str | None
    alias: str | None
    birth_date: str  # EYYYYMMDD
    sex: int
    address: str
    municipality_code: str
    removed: bool  # the record was removed (death, emigration, move-out)
    change_reason: str
    changed_on: date


@dataclass(frozen=True)
class Provision:
    """A provision made: what was given, to whom, on which basis, and its log entry."""

    log_id: int
    at: datetime
    purpose: Purpose
    fields: tuple[str, ...]
    identity: IdentityAnswer


@dataclass(frozen=True)
class ProvisionRecord:
    """One logged request, as a resident's disclosure shows it."""

    log_id: int
    at: datetime
    agency: str
    purpose_id: str
    legal_basis: str | None
    lookup: Lookup
    subject_resident_code: str | None
    fields: tuple[str, ...]
    masked_number: str | None
    outcome: Outcome
    reason: str | None

    @classmethod
    def from_row(cls, row: ProvisionLogEntry) -> ProvisionRecord:
        return cls(log_id=row.log_id, at=row.at, agency=row.agency, purpose_id=row.purpose_id,
                   legal_basis=row.legal_basis, lookup=Lookup(row.lookup),
                   subject_resident_code=row.subject_resident_code,
                   fields=tuple(json.loads(row.fields)), masked_number=row.masked_number,
                   outcome=Outcome(row.outcome), reason=row.reason)


# -- the table of statutory purposes -----------------------------------------------------------


def shipped_purposes() -> list[Purpose]:
    """The shipped purposes (examples from the 別表 of 住民基本台帳法)."""
    text = resources.files("jukibridge").joinpath("data/provision_purposes.csv").read_text("utf-8")
    purposes = []
    for row in csv.DictReader(text.splitlines()):
        if row["individual_number"] not in ("true", "false"):
            raise InvalidInput(f"purpose {row['purpose_id']}: individual_number is true or false",
                               field="individual_number")
        purposes.append(Purpose(
            purpose_id=row["purpose_id"], agency=row["agency"], agency_name=row["agency_name"],
            agency_kind=AgencyKind(row["agency_kind"]), task=row["task"],
            legal_basis=row["legal_basis"], individual_number=row["individual_number"] == "true"))
    return purposes


def load_purposes(session: Session) -> int:
    """Insert the shipped purposes that are missing; returns how many were added."""
    known = set(session.scalars(select(ProvisionPurpose.purpose_id)))
    added = 0
    for p in shipped_purposes():
        if p.purpose_id not in known:
            session.add(ProvisionPurpose(
                purpose_id=p.purpose_id, agency=p.agency, agency_name=p.agency_name,
                agency_kind=p.agency_kind.value, task=p.task, legal_basis=p.legal_basis,
                individual_number=p.individual_number))
            added += 1
    session.flush()
    return added


def purposes(sessions: sessionmaker[Session]) -> list[Purpose]:
    """Every purpose of the table, by agency."""
    with sessions() as session:
        rows = session.scalars(select(ProvisionPurpose).order_by(
            ProvisionPurpose.agency, ProvisionPurpose.purpose_id))
        return [Purpose.from_row(row) for row in rows]


# -- requests ------------------------------------------------------------------------------------


def request(sessions: sessionmaker[Session], clock: Clock, *, agency: str, purpose_id: str,
            resident_code: str | None = None, query: BasicFourQuery | None = None
            ) -> Provision:
    """Answer an agency's request for one resident's identity info, by resident code or by a
    basic-four search, for a declared purpose; log it whatever the outcome.

    Raises ``InvalidInput`` for a malformed request (nothing logged: nothing was asked), and,
    after logging, ``PermissionDenied`` for a purpose the agency does not have, ``NotFound``
    when nobody matches and ``InvalidInput`` when several residents match.
    """
    if (resident_code is None) == (query is None):
        raise InvalidInput("give either a resident code or a basic-four search", field="lookup")
    if resident_code is not None:
        resident_code = validate_resident_code(resident_code)
        lookup = Lookup.RESIDENT_CODE
    else:
        assert query is not None
        query = _normalised(query)
        lookup = Lookup.BASIC_FOUR
    agency, purpose_id = agency.strip(), purpose_id.strip()
    # One transaction that only reads identities and writes the log row; a refusal is raised
    # once it has committed, so the log of a refused request survives the refusal.
    with sessions() as session, session.begin():
        entry = ProvisionLogEntry(at=clock.now(), agency=agency[:40], purpose_id=purpose_id[:40],
                                  lookup=lookup.value, subject_resident_code=resident_code,
                                  fields="[]")
        try:
            purpose, identity = _provide(session, entry, lookup, resident_code, query)
        except RegisterError as exc:
            entry.reason = exc.message[:200]
            session.add(entry)
            failure = exc
        else:
            session.add(entry)
            session.flush()
            return Provision(log_id=entry.log_id, at=entry.at, purpose=purpose,
                             fields=tuple(json.loads(entry.fields)), identity=identity)
    raise failure


def history(sessions: sessionmaker[Session], resident_code: str) -> list[ProvisionRecord]:
    """A resident's disclosure (提供状況の開示): every logged request about them, oldest first,
    including those made under a former resident code."""
    code = validate_resident_code(resident_code)
    with sessions() as session:
        identity = session.scalars(select(NationalIdentity).where(
            NationalIdentity.resident_code == code)).first()
        if identity is None:
            raise NotFound(f"no identity info for resident code {code}", resident_code=code)
        codes = [code, *json.loads(identity.former_codes)]
        rows = session.scalars(select(ProvisionLogEntry).where(
            ProvisionLogEntry.subject_resident_code.in_(codes))
            .order_by(ProvisionLogEntry.at, ProvisionLogEntry.log_id))
        return [ProvisionRecord.from_row(row) for row in rows]


# -- internals -----------------------------------------------------------------------------------


def _normalised(query: BasicFourQuery) -> BasicFourQuery:
    try:
        birth_date = PartialDate.parse(query.birth_date).code
    except DateError as exc:
        raise InvalidInput(f"birth date: {exc}", field="birth_date") from None
    if query.sex is not None and query.sex not in tuple(Sex):
        raise InvalidInput("sex is 1 (male), 2 (female) or 3 (unknown)", field="sex")
    address = _address_key(query.address) if query.address is not None else None
    return BasicFourQuery(name=normalise_name(query.name), birth_date=birth_date, sex=query.sex,
                          address=address or None)


def _address_key(address: str) -> str:
    """An address compared without regard to blanks and full- or half-width forms."""
    return "".join(unicodedata.normalize("NFKC", address).split())


def _provide(session: Session, entry: ProvisionLogEntry, lookup: Lookup,
             resident_code: str | None, query: BasicFourQuery | None
             ) -> tuple[Purpose, IdentityAnswer]:
    """Decide and answer one request, writing the outcome into its log ``entry``."""
    entry.outcome = Outcome.REFUSED.value
    purpose = _authorise(session, entry.agency, entry.purpose_id, lookup)
    entry.legal_basis = purpose.legal_basis
    matches = _matches(session, resident_code, query)
    if not matches:
        entry.outcome = Outcome.NOT_FOUND.value
        raise NotFound("no resident matches the request")
    if len(matches) > 1:
        entry.outcome = Outcome.AMBIGUOUS.value
        raise InvalidInput("several residents match: give sex and address too", field="query")
    identity = _answer(matches[0], purpose)
    entry.outcome = Outcome.PROVIDED.value
    entry.subject_resident_code = matches[0].resident_code
    entry.fields = json.dumps([i for i in ITEMS if getattr(identity, i) is not None])
    if identity.individual_number is not None:
        entry.masked_number = mask_individual_number(identity.individual_number)
    return purpose, identity


def _authorise(session: Session, agency: str, purpose_id: str, lookup: Lookup) -> Purpose:
    row = session.get(ProvisionPurpose, purpose_id)
    if row is None:
        raise PermissionDenied(f"purpose {purpose_id!r} is not a statutory purpose", agency=agency,
                               purpose_id=purpose_id)
    if row.agency != agency:
        raise PermissionDenied(f"purpose {purpose_id!r} is not a purpose of {agency!r}",
                               agency=agency, purpose_id=purpose_id)
    purpose = Purpose.from_row(row)
    if purpose.agency_kind is AgencyKind.PRIVATE and lookup is Lookup.RESIDENT_CODE:
        raise PermissionDenied("a private party may not use resident codes", agency=agency,
                               purpose_id=purpose_id)
    return purpose


def _matches(session: Session, resident_code: str | None, query: BasicFourQuery | None
             ) -> list[NationalIdentity]:
    if resident_code is not None:
        return list(session.scalars(select(NationalIdentity).where(
            NationalIdentity.resident_code == resident_code)))
    assert query is not None
    stmt = select(NationalIdentity).where(NationalIdentity.name == query.name,
                                          NationalIdentity.birth_date == query.birth_date)
    if query.sex is not None:
        stmt = stmt.where(NationalIdentity.sex == query.sex)
    rows = session.scalars(stmt.order_by(NationalIdentity.identity_id).limit(MAX_MATCHES)).all()
    return [r for r in rows if query.address is None or _address_key(r.address) == query.address]


def _answer(row: NationalIdentity, purpose: Purpose) -> IdentityAnswer:
    public = purpose.agency_kind is not AgencyKind.PRIVATE
    values: dict[str, Any] = {item: getattr(row, item) for item in ITEMS}
    if not public:
        values["resident_code"] = None
    if not (public and purpose.individual_number):
        values["individual_number"] = None
    return IdentityAnswer(**values)


# -- the latest basic four, for registered verifiers ---------------------------------------------
#
# The revocation service answers a registered verifier (署名検証者) with the current basic four
# of a revoked signing certificate's holder, with the holder's consent. The answer comes from
# the national server's store, and every answer and refusal is written to the provision log
# like any other provision, so that it appears in the holder's disclosure.

LATEST_BASIC_FOUR = "latest-basic-four"  # the purpose logged for a verifier's request
LATEST_BASIC_FOUR_BASIS = ("公的個人認証法に基づく署名検証者への最新の基本4情報の提供"
                           "（本人の同意による）")
BASIC_FOUR_ITEMS = ("name", "birth_date", "sex", "address")


@dataclass(frozen=True)
class CurrentBasicFour:
    """A person's basic four as the national server holds them now."""

    resident_code: str  # the current code
    name: str
    birth_date: str  # EYYYYMMDD
    sex: int
    address: str


def current_basic_four(session: Session, resident_codes: Collection[str]
                       ) -> CurrentBasicFour | None:
    """The current basic four of the person who holds, or held, any of ``resident_codes``."""
    codes = sorted({validate_resident_code(code) for code in resident_codes})
    row = session.scalars(select(NationalIdentity).where(
        NationalIdentity.resident_code.in_(codes))).first()
    for code in codes if row is None else ():
        # A replaced code is kept in the JSON list ``former_codes`` of the person's row.
        row = session.scalars(select(NationalIdentity).where(
            NationalIdentity.former_codes.contains(f'"{code}"'))).first()
        if row is not None:
            break
    if row is None:
        return None
    return CurrentBasicFour(resident_code=row.resident_code, name=row.name,
                            birth_date=row.birth_date, sex=row.sex, address=row.address)


def log_verifier_request(session: Session, clock: Clock, *, verifier: str, resident_code: str,
                         outcome: Outcome, fields: Sequence[str] = (),
                         reason: str | None = None) -> ProvisionRecord:
    """Log a registered verifier's latest-basic-four request about ``resident_code`` (in the
    caller's transaction): agency = the verifier, purpose ``latest-basic-four``, the items
    given (none unless provided) and, for a refusal, why."""
    unknown = [item for item in fields if item not in BASIC_FOUR_ITEMS]
    if unknown or (outcome is Outcome.PROVIDED) != bool(fields):
        raise InvalidInput("a verifier is given the basic four items, and only when provided",
                           field="fields")
    entry = ProvisionLogEntry(
        at=clock.now(), agency=verifier.strip()[:40], purpose_id=LATEST_BASIC_FOUR,
        legal_basis=LATEST_BASIC_FOUR_BASIS, lookup=Lookup.RESIDENT_CODE.value,
        subject_resident_code=validate_resident_code(resident_code), fields=json.dumps(
            list(fields)), outcome=outcome.value, reason=reason[:200] if reason else None)
    session.add(entry)
    session.flush()
    return ProvisionRecord.from_row(entry)
