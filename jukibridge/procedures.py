"""Change procedures: one function per change kind, applied inside the caller's transaction.

Each procedure validates everything it needs and raises a ``RegisterError`` on bad input; the
caller rolls the transaction back, so the register is unchanged after an error. Procedures only
ever append snapshot rows (``ApplyContext.append``); nothing is overwritten or deleted.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jukibridge import change_requests as rq
from jukibridge import exchange
from jukibridge.codes import (
    validate_individual_number,
    validate_municipality_code,
    validate_resident_code,
)
from jukibridge.errors import Conflict, InvalidInput, NotFound
from jukibridge.kana import normalise_kana, normalise_name
from jukibridge.numbering import CodeIssuer
from jukibridge.records import HEAD, ChangeKind, RecordState
from jukibridge.tables import (
    CardRow,
    Change,
    Household,
    MoveOutCertificateRow,
    Person,
    RegisterSettings,
    Snapshot,
)
from pki.clock import Clock
from pki.eras import DateError, PartialDate

META_COLUMNS = frozenset(
    {"person_id", "seq", "change_id", "kind", "effective_on", "notified_on", "operator",
     "remarks", "recorded_at", "corrects_seq"}
)
DATA_COLUMNS = tuple(c.key for c in Snapshot.__table__.columns if c.key not in META_COLUMNS)
# Items carried by a move-out certificate to the destination (never the household data).
CERTIFICATE_ITEMS = (
    "resident_code", "individual_number", "name", "name_kana", "former_surname", "alias",
    "alias_kana", "birth_date", "sex", "foreign_resident", "nationality", "residence_status",
    "residence_period_end", "domicile", "domicile_head", "address", "destination",
    "national_pension",
)


@dataclass
class Outcome:
    """What a committed change did."""

    change_id: int
    person_ids: list[int] = field(default_factory=list)
    resident_codes: list[str] = field(default_factory=list)
    certificate_ids: list[str] = field(default_factory=list)


@dataclass
class ApplyContext:
    """Everything a procedure may touch: the session, the change being applied and its outcome."""

    session: Session
    clock: Clock
    municipality_code: str
    change: Change
    operator: str
    issuer: CodeIssuer
    outcome: Outcome
    address_prefix: str  # prefecture + municipality, e.g. 埼玉県所沢市
    clock_today: date  # today in Japan (JST), for date checks

    # -- reading -------------------------------------------------------------------------------

    def active(self, resident_code: str) -> tuple[Person, Snapshot]:
        """The active record of ``resident_code`` in this municipality."""
        code = validate_resident_code(resident_code)
        persons = self.session.scalars(
            select(Person).where(Person.resident_code == code,
                                 Person.municipality_code == self.municipality_code)
            .order_by(Person.person_id.desc())
        ).all()
        for person in persons:
            if person.state == RecordState.ACTIVE.value:
                return person, self.current(person)
        if persons:
            raise Conflict(f"the record of {code} is removed", resident_code=code)
        raise NotFound(f"no resident {code} in this municipality", resident_code=code)

    def current(self, person: Person) -> Snapshot:
        row = self.session.get(Snapshot, (person.person_id, person.current_seq))
        assert row is not None
        return row

    def household_members(self, household_id: int) -> list[tuple[Person, Snapshot]]:
        persons = self.session.scalars(
            select(Person).where(Person.household_id == household_id,
                                 Person.state == RecordState.ACTIVE.value)
            .order_by(Person.person_id)
        ).all()
        return [(p, self.current(p)) for p in persons]

    def code_is_active_anywhere(self, resident_code: str) -> bool:
        return self.session.scalar(
            select(Person.person_id).where(Person.resident_code == resident_code,
                                           Person.state == RecordState.ACTIVE.value).limit(1)
        ) is not None

    def number_is_active_anywhere(self, number: str) -> bool:
        return self.session.scalar(
            select(Person.person_id).join(
                Snapshot, (Snapshot.person_id == Person.person_id)
                & (Snapshot.seq == Person.current_seq))
            .where(Snapshot.individual_number == number,
                   Person.state == RecordState.ACTIVE.value).limit(1)
        ) is not None

    @property
    def on(self) -> date:
        return self.change.effective_on

    def address(self, raw: str) -> str:
        """An address in this municipality, written in full from the prefecture."""
        address = _text(raw, "address")
        municipality = self.address_prefix[len(self.address_prefix.split("県")[0]) + 1:] \
            if "県" in self.address_prefix[:4] else self.address_prefix
        if address.startswith(self.address_prefix):
            rest = address[len(self.address_prefix):]
        elif municipality and address.startswith(municipality):
            rest = address[len(municipality):]
        elif any(mark in address[:4] for mark in "都道府県"):
            raise InvalidInput(f"the address is not in {self.address_prefix}", field="address")
        else:
            rest = address
        if not rest.strip():
            raise InvalidInput("the address needs more than the municipality", field="address")
        return self.address_prefix + rest.strip()

    # -- writing -------------------------------------------------------------------------------

    def append(self, person: Person, previous: Snapshot, *, corrects_seq: int | None = None,
               **items: Any) -> Snapshot:
        """Append the next snapshot of ``person``: ``previous`` with ``items`` changed."""
        unknown = set(items) - set(DATA_COLUMNS)
        if unknown:
            raise InvalidInput(f"unknown item(s): {', '.join(sorted(unknown))}")
        data = {c: getattr(previous, c) for c in DATA_COLUMNS}
        data.update(items)
        row = self._snapshot(person.person_id, person.current_seq + 1, data, corrects_seq)
        person.current_seq = row.seq
        person.state = row.state
        person.resident_code = row.resident_code
        person.household_id = row.household_id
        person.name_kana = row.name_kana
        person.birth_date = row.birth_date
        self._touched(person, row)
        self.session.flush()  # surfaces unique-index conflicts here, inside the procedure
        return row

    def create(self, data: dict[str, Any]) -> tuple[Person, Snapshot]:
        """A new person whose first snapshot holds ``data``."""
        data = {"state": RecordState.ACTIVE.value, "municipality_code": self.municipality_code,
                "removal_reason": None, "removed_on": None, "destination": None,
                "destination_confirmed_on": None, **data}
        missing = set(DATA_COLUMNS) - set(data)
        for column in missing:
            default = Snapshot.__table__.columns[column].default
            data[column] = default.arg if default is not None else None
        person = Person(municipality_code=self.municipality_code,
                        resident_code=data["resident_code"], current_seq=1,
                        state=data["state"], household_id=data["household_id"],
                        name_kana=data["name_kana"], birth_date=data["birth_date"])
        self.session.add(person)
        self.session.flush()
        row = self._snapshot(person.person_id, 1, data, None)
        self._touched(person, row)
        self.session.flush()
        return person, row

    def new_household(self) -> int:
        household = Household(municipality_code=self.municipality_code,
                              created_at=self.clock.now())
        self.session.add(household)
        self.session.flush()
        return household.household_id

    def _snapshot(self, person_id: int, seq: int, data: dict[str, Any],
                  corrects_seq: int | None) -> Snapshot:
        row = Snapshot(person_id=person_id, seq=seq, change_id=self.change.change_id,
                       kind=self.change.kind, effective_on=self.change.effective_on,
                       notified_on=self.change.notified_on, operator=self.operator,
                       remarks=self.change.remarks, recorded_at=self.clock.now(),
                       corrects_seq=corrects_seq, **data)
        self.session.add(row)
        return row

    def _touched(self, person: Person, row: Snapshot) -> None:
        if person.person_id not in self.outcome.person_ids:
            self.outcome.person_ids.append(person.person_id)
            self.outcome.resident_codes.append(row.resident_code)
        else:
            self.outcome.resident_codes[self.outcome.person_ids.index(person.person_id)] = (
                row.resident_code)


# -- shared checks ---------------------------------------------------------------------------


def _person_items(req: rq.PersonItems) -> dict[str, Any]:
    """Validated statutory items of a person entering the register."""
    items: dict[str, Any] = {
        "name": normalise_name(req.name),
        "name_kana": normalise_kana(req.name_kana),
        "former_surname": normalise_name(req.former_surname, "former_surname")
        if req.former_surname else None,
        "birth_date": req.birth_date.code,
        "sex": int(req.sex),
        "foreign_resident": req.foreign_resident,
        "electoral_roll": req.electoral_roll,
        "national_health_insurance": req.national_health_insurance,
        "long_term_care": req.long_term_care,
        "national_pension": req.national_pension,
        "child_allowance": req.child_allowance,
    }
    if req.foreign_resident:
        if not req.nationality or not req.residence_status:
            raise InvalidInput("a foreign resident needs nationality and residence status",
                               field="nationality")
        if req.domicile or req.domicile_head:
            raise InvalidInput("only Japanese nationals have a registered domicile",
                               field="domicile")
        if req.electoral_roll:
            raise InvalidInput("foreign residents are not on the electoral roll",
                               field="electoral_roll")
        items |= {
            "nationality": req.nationality.strip(),
            "residence_status": req.residence_status.strip(),
            "residence_period_end": req.residence_period_end,
            "alias": normalise_name(req.alias, "alias") if req.alias else None,
            "alias_kana": normalise_kana(req.alias_kana, "alias_kana") if req.alias_kana
            else None,
            "domicile": None,
            "domicile_head": None,
        }
    else:
        if req.nationality or req.residence_status or req.alias or req.alias_kana:
            raise InvalidInput(
                "nationality, residence status and alias are items of foreign residents only",
                field="nationality")
        items |= {
            "nationality": None, "residence_status": None, "residence_period_end": None,
            "alias": None, "alias_kana": None,
            "domicile": _text(req.domicile, "domicile") if req.domicile else None,
            "domicile_head": normalise_name(req.domicile_head, "domicile_head")
            if req.domicile_head else None,
        }
    return items


def _text(value: str, name: str, limit: int = 200) -> str:
    value = " ".join(value.split())
    if not value:
        raise InvalidInput(f"{name} is empty", field=name)
    if len(value) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters", field=name)
    return value


def _relationship(value: str) -> str:
    return _text(value, "relationship", 30)


def _not_after(day: PartialDate, limit: date, name: str) -> None:
    earliest = day.earliest()
    if earliest is not None and earliest > limit:
        raise InvalidInput(f"{name} {day.japanese()} is after {limit.isoformat()}", field=name)


def _distinct(codes: list[str], name: str = "resident_codes") -> list[str]:
    if not codes:
        raise InvalidInput(f"{name} is empty", field=name)
    if len(set(codes)) != len(codes):
        raise InvalidInput(f"{name} lists a resident twice", field=name)
    return codes


def _household_for(ctx: ApplyContext, join_code: str | None, relationship: str
                   ) -> tuple[int, str]:
    """The household a newcomer enters: joins ``join_code``'s, or heads a new one."""
    relationship = _relationship(relationship)
    if join_code:
        _, host = ctx.active(join_code)
        if relationship == HEAD:
            raise InvalidInput("a member joining a household needs a relationship to its head",
                               field="relationship")
        assert host.household_id is not None
        return host.household_id, relationship
    if relationship != HEAD:
        raise InvalidInput("a person in a new household is its head (世帯主)",
                           field="relationship")
    return ctx.new_household(), HEAD


# -- procedures ------------------------------------------------------------------------------


def birth(ctx: ApplyContext, req: rq.Birth) -> None:
    if not req.birth_date.is_complete:
        raise InvalidInput("a birth needs the full birth date", field="birth_date")
    born = req.birth_date.as_date()
    if born > ctx.clock_today:
        raise InvalidInput("birth date is in the future", field="birth_date")
    if born != ctx.on:
        raise InvalidInput("a birth takes effect on the birth date", field="effective_on")
    _, parent = ctx.active(req.parent_code)
    relationship = _relationship(req.relationship)
    if relationship == HEAD:
        raise InvalidInput("a newborn joins the household of a parent", field="relationship")
    items = _person_items(req)
    if not req.foreign_resident and not items["domicile"]:
        items["domicile"], items["domicile_head"] = parent.domicile, parent.domicile_head
    born_code = PartialDate.of(born).code
    ctx.create(items | {
        "resident_code": ctx.issuer.resident_code(),
        "individual_number": ctx.issuer.individual_number(),
        "household_id": parent.household_id,
        "relationship": relationship,
        "address": parent.address,
        "previous_address": None,
        "became_resident_on": born_code,
        "address_fixed_on": born_code,
        "address_notified_on": ctx.change.notified_on,
    })


def immigration(ctx: ApplyContext, req: rq.Immigration) -> None:
    _not_after(req.birth_date, ctx.on, "birth_date")
    items = _person_items(req)
    if not req.foreign_resident and not items["domicile"]:
        raise InvalidInput("a Japanese national needs a registered domicile", field="domicile")
    number = None
    if req.individual_number:
        number = validate_individual_number(req.individual_number)
        if ctx.number_is_active_anywhere(number):
            raise Conflict("that individual number belongs to a current resident",
                           field="individual_number")
    household_id, relationship = _household_for(ctx, req.join_household_of, req.relationship)
    on = PartialDate.of(ctx.on).code
    ctx.create(items | {
        "resident_code": ctx.issuer.resident_code(),
        "individual_number": number or ctx.issuer.individual_number(),
        "household_id": household_id,
        "relationship": relationship,
        "address": ctx.address(req.address),
        "previous_address": _text(req.previous_address, "previous_address"),
        "became_resident_on": on,
        "address_fixed_on": on,
        "address_notified_on": ctx.change.notified_on,
    })


def move_in(ctx: ApplyContext, req: rq.MoveIn) -> None:
    if (req.certificate_id is None) == (req.resident_code is None):
        raise InvalidInput("give the move-out certificate, or the resident code of a special "
                           "move", field="certificate_id")
    certificate_id = req.certificate_id
    card: CardRow | None = None
    if req.resident_code is not None:
        arrival = exchange.expected_arrival(
            ctx.session, ctx.municipality_code, validate_resident_code(req.resident_code))
        if arrival is None:
            raise NotFound("no special-move data arrived for this resident", field="resident_code")
        certificate_id = arrival.certificate_id
        card = _presented_card(ctx, req.card_id, json.loads(arrival.card_ids))
    elif req.card_id is not None:
        raise InvalidInput("a card is presented only for a special move (by resident code)",
                           field="card_id")
    assert certificate_id is not None
    cert = ctx.session.get(MoveOutCertificateRow, certificate_id.strip())
    if cert is None or cert.voided_at is not None:
        raise NotFound("no such move-out certificate", field="certificate_id")
    if cert.used_by_person_id is not None:
        raise Conflict("the move-out certificate was already used for a move-in",
                       field="certificate_id")
    if cert.origin_code == ctx.municipality_code:
        raise Conflict("a move inside the municipality is a relocation (転居), not a move-in",
                       field="certificate_id")
    if ctx.code_is_active_anywhere(cert.resident_code):
        raise Conflict(f"{cert.resident_code} is already a resident", field="certificate_id")
    carried: dict[str, Any] = json.loads(cert.payload)
    if carried.get("residence_period_end"):
        carried["residence_period_end"] = date.fromisoformat(carried["residence_period_end"])
    household_id, relationship = _household_for(ctx, req.join_household_of, req.relationship)
    on = PartialDate.of(ctx.on).code
    person, _ = ctx.create({k: v for k, v in carried.items()
                            if k not in ("address", "destination")} | {
        "household_id": household_id,
        "relationship": relationship,
        "address": ctx.address(req.address),
        "previous_address": carried["address"],
        "became_resident_on": on,
        "address_fixed_on": on,
        "address_notified_on": ctx.change.notified_on,
    })
    cert.used_by_person_id = person.person_id
    if card is not None and card.resident_code == cert.resident_code:
        # The holder's own card is now kept by this municipality (PIN resets, loss reports).
        card.municipality_code = ctx.municipality_code
        card.person_id = person.person_id
    exchange.send(ctx.session, ctx.clock, sender=ctx.municipality_code,
                  recipient=cert.origin_code, kind=exchange.MOVE_IN_NOTICE,
                  payload={"certificate_id": cert.certificate_id,
                           "destination": ctx.address(req.address),
                           "moved_in_on": ctx.on.isoformat()})


def _presented_card(ctx: ApplyContext, card_id: str | None, accepted: list[str]) -> CardRow:
    """The card shown at the destination counter for a special move: it must be active and
    belong to one of the residents who moved out together."""
    if not card_id or not card_id.strip():
        raise InvalidInput("a special move-in is accepted on presentation of the card",
                           field="card_id")
    card = ctx.session.get(CardRow, card_id.strip(), with_for_update=True)
    if card is None or card.card_id not in accepted:
        raise InvalidInput("this card is not one of the cards of the special move",
                           field="card_id")
    if card.state != "active":
        raise Conflict(f"the card is {card.state}", field="card_id")
    return card


def _remove(ctx: ApplyContext, codes: list[str], destination: str | None) -> list[
        tuple[Person, Snapshot]]:
    removed = []
    for code in _distinct(codes):
        person, current = ctx.active(code)
        row = ctx.append(person, current, state=RecordState.REMOVED.value,
                         removal_reason=ChangeKind[ctx.change.kind].name, removed_on=ctx.on,
                         destination=destination, electoral_roll=False,
                         national_health_insurance=False, long_term_care=False,
                         child_allowance=False)
        removed.append((person, row))
    return removed


def death(ctx: ApplyContext, req: rq.Death) -> None:
    _remove(ctx, [req.resident_code], None)


def move_out(ctx: ApplyContext, req: rq.MoveOut) -> None:
    destination = _text(req.destination, "destination")
    target = _special_move_target(ctx, req)
    card_ids = _movers_cards(ctx, req.resident_codes) if target is not None else []
    for person, row in _remove(ctx, req.resident_codes, destination):
        cert = MoveOutCertificateRow(
            certificate_id=secrets.token_hex(16),
            origin_code=ctx.municipality_code,
            person_id=person.person_id,
            resident_code=row.resident_code,
            payload=json.dumps({k: _plain(getattr(row, k)) for k in CERTIFICATE_ITEMS},
                               ensure_ascii=False, sort_keys=True),
            planned_destination=destination,
            planned_on=ctx.on,
            issued_at=ctx.clock.now(),
        )
        ctx.session.add(cert)
        ctx.outcome.certificate_ids.append(cert.certificate_id)
        if target is not None:
            exchange.send(ctx.session, ctx.clock, sender=ctx.municipality_code, recipient=target,
                          kind=exchange.MOVE_OUT_DATA,
                          payload={"certificate_id": cert.certificate_id,
                                   "resident_code": row.resident_code,
                                   "card_ids": card_ids})


def _movers_cards(ctx: ApplyContext, codes: list[str]) -> list[str]:
    """The active cards held by residents of a special move; at least one is required."""
    found = list(ctx.session.scalars(select(CardRow.card_id).where(
        CardRow.resident_code.in_(_distinct(codes)), CardRow.state == "active",
        CardRow.municipality_code == ctx.municipality_code).order_by(CardRow.card_id)))
    if not found:
        raise InvalidInput("a special move is for card holders: none of the residents moving "
                           "holds an active card", field="special")
    return found


def _special_move_target(ctx: ApplyContext, req: rq.MoveOut) -> str | None:
    """The destination CS of a special move (None for an ordinary move)."""
    if not req.special:
        return None
    if not req.destination_code:
        raise InvalidInput("a special move names the destination municipality",
                           field="destination_code")
    code = validate_municipality_code(req.destination_code)
    if code == ctx.municipality_code:
        raise InvalidInput("a move inside the municipality is a relocation (転居)",
                           field="destination_code")
    if ctx.session.get(RegisterSettings, code) is None:
        raise NotFound(f"municipality {code} is not on the network", field="destination_code")
    return code


def emigration(ctx: ApplyContext, req: rq.Emigration) -> None:
    _remove(ctx, req.resident_codes, _text(req.destination, "destination"))


def relocation(ctx: ApplyContext, req: rq.Relocation) -> None:
    address = ctx.address(req.address)
    for code in _distinct(req.resident_codes):
        person, current = ctx.active(code)
        if current.address == address:
            raise Conflict(f"{code} already lives at that address", resident_code=code)
        ctx.append(person, current, address=address, previous_address=current.address,
                   address_fixed_on=PartialDate.of(ctx.on).code,
                   address_notified_on=ctx.change.notified_on)


def name_change(ctx: ApplyContext, req: rq.NameChange) -> None:
    person, current = ctx.active(req.resident_code)
    name, kana = normalise_name(req.name), normalise_kana(req.name_kana)
    if (name, kana) == (current.name, current.name_kana):
        raise Conflict("the name is unchanged", field="name")
    former = normalise_name(req.former_surname, "former_surname") if req.former_surname \
        else current.former_surname
    ctx.append(person, current, name=name, name_kana=kana, former_surname=former)


def _parse_items(items: dict[str, str]) -> dict[str, Any]:
    if not items:
        raise InvalidInput("no items to correct", field="items")
    parsed: dict[str, Any] = {}
    for key, raw in items.items():
        parser = CORRECTABLE.get(key)
        if parser is None:
            raise InvalidInput(f"{key} cannot be corrected this way", field=key)
        try:
            parsed[key] = parser(raw) if raw not in ("", None) else None
        except (ValueError, DateError) as exc:
            raise InvalidInput(f"{key}: cannot read {raw!r}", field=key) from exc
        if parsed[key] is None and key in REQUIRED_ITEMS:
            raise InvalidInput(f"{key} cannot be empty", field=key)
    return parsed


def correction(ctx: ApplyContext, req: rq.Correction) -> None:
    person, current = ctx.active(req.resident_code)
    items = _parse_items(req.items)
    if all(getattr(current, k) == v for k, v in items.items()):
        raise Conflict("the correction changes nothing", field="items")
    ctx.append(person, current, **items)


def minor_correction(ctx: ApplyContext, req: rq.MinorCorrection) -> None:
    person, current = ctx.active(req.resident_code)
    items: dict[str, Any] = {}
    if req.name:
        name = normalise_name(req.name)
        if len(name) != len(current.name) or name == current.name:
            raise InvalidInput("a minor correction changes characters to their common form, "
                               "one for one", field="name")
        items["name"] = name
    if req.address:
        address = ctx.address(req.address)
        if address == current.address:
            raise InvalidInput("the address is unchanged", field="address")
        items["address"] = address
    if not items:
        raise InvalidInput("give the corrected name or address", field="name")
    ctx.append(person, current, **items)


def clerical_fix(ctx: ApplyContext, req: rq.ClericalFix) -> None:
    person, current = ctx.active(req.resident_code)
    if not 1 <= req.seq <= person.current_seq:
        raise NotFound(f"no snapshot {req.seq} of {req.resident_code}", field="seq")
    items = _parse_items(req.items)
    if all(getattr(current, k) == v for k, v in items.items()):
        raise Conflict("the fix changes nothing", field="items")
    ctx.append(person, current, corrects_seq=req.seq, **items)


def household_change(ctx: ApplyContext, req: rq.HouseholdChange) -> None:
    codes = _distinct(req.resident_codes)
    members = [ctx.active(c) for c in codes]
    rels = {k: _relationship(v) for k, v in req.relationships.items()}
    if req.action in ("split", "merge") and set(rels) - set(codes):
        raise InvalidInput("relationships name residents the change does not touch",
                           field="relationships")
    if req.action == "split":
        household = members[0][1].household_id
        if any(s.household_id != household for _, s in members):
            raise InvalidInput("a split takes members of one household", field="resident_codes")
        assert household is not None
        staying = [s for _, s in ctx.household_members(household)
                   if s.resident_code not in codes]
        if not staying:
            raise Conflict("a split must leave someone in the household", field="resident_codes")
        if any(s.relationship == HEAD for _, s in members):
            raise Conflict("the head cannot be split off; change the head first",
                           field="resident_codes")
        new_id = ctx.new_household()
        for i, (person, current) in enumerate(members):
            rel = HEAD if i == 0 else rels.get(current.resident_code)
            if rel is None or (i and rel == HEAD):
                raise InvalidInput(f"give the relationship of {current.resident_code} to the "
                                   "new head", field="relationships")
            ctx.append(person, current, household_id=new_id, relationship=rel)
    elif req.action == "merge":
        if not req.target_code:
            raise InvalidInput("a merge needs the target household's member", field="target_code")
        _, target = ctx.active(req.target_code)
        for person, current in members:
            if current.household_id == target.household_id:
                raise Conflict(f"{current.resident_code} is already in that household",
                               field="resident_codes")
            rel = rels.get(current.resident_code)
            if rel is None or rel == HEAD:
                raise InvalidInput(f"give the relationship of {current.resident_code} to the "
                                   "head of the household joined", field="relationships")
            ctx.append(person, current, household_id=target.household_id, relationship=rel)
    elif req.action == "head":
        person, new_head = members[0]
        if new_head.relationship == HEAD:
            raise Conflict("that resident already heads the household", field="resident_codes")
        assert new_head.household_id is not None
        housemates = ctx.household_members(new_head.household_id)
        if set(rels) - {s.resident_code for _, s in housemates}:
            raise InvalidInput("relationships name residents outside the household",
                               field="relationships")
        for other, current in housemates:
            if other.person_id == person.person_id:
                continue
            rel = rels.get(current.resident_code)
            if current.relationship == HEAD and (rel is None or rel == HEAD):
                raise InvalidInput("give the former head's new relationship",
                                   field="relationships")
            if rel is not None and rel != current.relationship:
                ctx.append(other, current, relationship=rel)
        ctx.append(person, new_head, relationship=HEAD)
    else:
        raise InvalidInput("action is one of split, merge, head", field="action")


def resident_code_change(ctx: ApplyContext, req: rq.ResidentCodeChange) -> None:
    person, current = ctx.active(req.resident_code)
    ctx.append(person, current, resident_code=ctx.issuer.resident_code())


def move_in_confirmation(ctx: ApplyContext, req: rq.MoveInConfirmation) -> None:
    cert = ctx.session.get(MoveOutCertificateRow, req.certificate_id.strip())
    if cert is None or cert.origin_code != ctx.municipality_code or cert.voided_at is not None:
        raise NotFound("no such move-out certificate of this municipality",
                       field="certificate_id")
    person = ctx.session.get(Person, cert.person_id)
    assert person is not None
    current = ctx.current(person)
    if current.removal_reason != ChangeKind.MOVE_OUT.name:
        raise Conflict("the record is not removed by a move-out", field="certificate_id")
    if current.destination_confirmed_on is not None:
        raise Conflict("the move-in was already confirmed", field="certificate_id")
    ctx.append(person, current, destination=_text(req.destination, "destination"),
               destination_confirmed_on=ctx.on)


def cancellation(ctx: ApplyContext, req: rq.Cancellation) -> None:
    target = ctx.session.get(Change, req.change_id)
    if target is None or target.municipality_code != ctx.municipality_code:
        raise NotFound(f"no change {req.change_id}", field="change_id")
    if target.status != "committed":
        raise Conflict(f"change {req.change_id} is {target.status}", field="change_id")
    if target.kind in (ChangeKind.CANCELLATION.name, ChangeKind.MOVE_IN_CONFIRMED.name):
        raise Conflict(f"a {target.kind} cannot be cancelled; enter a new change",
                       field="change_id")
    rows = ctx.session.scalars(select(Snapshot).where(Snapshot.change_id == target.change_id)
                               .order_by(Snapshot.person_id, Snapshot.seq)).all()
    for row in rows:
        person = ctx.session.get(Person, row.person_id)
        assert person is not None
        if person.current_seq != row.seq:
            raise Conflict(f"{row.resident_code} changed after change {req.change_id}; "
                           "cancel the later change first", field="change_id")
    for cert in ctx.session.scalars(select(MoveOutCertificateRow).where(
            MoveOutCertificateRow.person_id.in_([r.person_id for r in rows]),
            MoveOutCertificateRow.voided_at.is_(None))):
        if cert.used_by_person_id is not None:
            raise Conflict("the move-out certificate was already used for a move-in",
                           field="change_id")
        cert.voided_at = ctx.clock.now()
    for cert in ctx.session.scalars(select(MoveOutCertificateRow).where(
            MoveOutCertificateRow.used_by_person_id.in_([r.person_id for r in rows]))):
        cert.used_by_person_id = None  # the move-in is undone: the certificate may serve again
    for row in rows:
        person = ctx.session.get(Person, row.person_id)
        assert person is not None
        if row.seq == 1:
            ctx.append(person, row, corrects_seq=row.seq, state=RecordState.REMOVED.value,
                       removal_reason=ChangeKind.CANCELLATION.name, removed_on=ctx.on)
        else:
            before = ctx.session.get(Snapshot, (row.person_id, row.seq - 1))
            assert before is not None
            if before.state == RecordState.ACTIVE.value and row.state != before.state and (
                    ctx.code_is_active_anywhere(before.resident_code)):
                raise Conflict(f"{before.resident_code} is resident elsewhere now",
                               field="change_id")
            ctx.append(person, before, corrects_seq=row.seq)
    target.status = "cancelled"
    target.cancelled_by = ctx.change.change_id


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _bool(raw: str) -> bool:
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def _sex(raw: str) -> int:
    value = int(raw)
    if value not in (1, 2, 3):
        raise ValueError(raw)
    return value


def _checked(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            return fn(raw)
        except InvalidInput as exc:
            raise ValueError(exc.message) from exc
    return parse


CORRECTABLE: dict[str, Callable[[str], Any]] = {
    "name": _checked(normalise_name),
    "name_kana": _checked(normalise_kana),
    "former_surname": _checked(normalise_name),
    "alias": _checked(normalise_name),
    "alias_kana": _checked(normalise_kana),
    "birth_date": lambda raw: PartialDate.parse(raw).code,
    "sex": _sex,
    "nationality": str.strip,
    "residence_status": str.strip,
    "residence_period_end": date.fromisoformat,
    "relationship": _checked(_relationship),
    "domicile": _checked(lambda raw: _text(raw, "domicile")),
    "domicile_head": _checked(normalise_name),
    "address": _checked(lambda raw: _text(raw, "address")),
    "previous_address": _checked(lambda raw: _text(raw, "previous_address")),
    "became_resident_on": lambda raw: PartialDate.parse(raw).code,
    "address_fixed_on": lambda raw: PartialDate.parse(raw).code,
    "electoral_roll": _bool,
    "national_health_insurance": _bool,
    "long_term_care": _bool,
    "national_pension": _bool,
    "child_allowance": _bool,
}
REQUIRED_ITEMS = frozenset({"name", "name_kana", "birth_date", "sex", "relationship", "address",
                            "became_resident_on", "address_fixed_on"})

Procedure = Callable[[ApplyContext, Any], None]
PROCEDURES: dict[ChangeKind, Procedure] = {
    ChangeKind.BIRTH: birth,
    ChangeKind.DEATH: death,
    ChangeKind.MOVE_IN: move_in,
    ChangeKind.IMMIGRATION: immigration,
    ChangeKind.MOVE_OUT: move_out,
    ChangeKind.EMIGRATION: emigration,
    ChangeKind.RELOCATION: relocation,
    ChangeKind.NAME_CHANGE: name_change,
    ChangeKind.CORRECTION: correction,
    ChangeKind.MINOR_CORRECTION: minor_correction,
    ChangeKind.CLERICAL_FIX: clerical_fix,
    ChangeKind.HOUSEHOLD_CHANGE: household_change,
    ChangeKind.RESIDENT_CODE_CHANGE: resident_code_change,
    ChangeKind.MOVE_IN_CONFIRMED: move_in_confirmation,
    ChangeKind.CANCELLATION: cancellation,
}
