"""What an operator asks for: one frozen request type per change kind, and their JSON form.

A draft stores its request as JSON; committing reads it back. The same field metadata drives
the command line (``jpki change KIND --field value``).
"""

from __future__ import annotations

import dataclasses
import json
import types
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

from jukibridge.errors import InvalidInput
from jukibridge.records import HEAD, ChangeKind, Sex
from pki.eras import DateError, PartialDate


@dataclass(frozen=True, kw_only=True)
class ChangeRequest:
    """Base of every request; ``kind`` names the procedure that applies it."""

    kind: ClassVar[ChangeKind]


@dataclass(frozen=True, kw_only=True)
class PersonItems(ChangeRequest):
    """Statutory items given when a person enters the register."""

    name: str
    name_kana: str
    birth_date: PartialDate
    sex: Sex
    former_surname: str | None = None
    alias: str | None = None
    alias_kana: str | None = None
    foreign_resident: bool = False
    nationality: str | None = None
    residence_status: str | None = None
    residence_period_end: date | None = None
    domicile: str | None = None
    domicile_head: str | None = None
    electoral_roll: bool = False
    national_health_insurance: bool = False
    long_term_care: bool = False
    national_pension: bool = False
    child_allowance: bool = False


@dataclass(frozen=True, kw_only=True)
class Birth(PersonItems):
    """出生: the child joins the household of ``parent_code``; effective on the birth date."""

    kind = ChangeKind.BIRTH
    parent_code: str
    relationship: str = "子"


@dataclass(frozen=True, kw_only=True)
class Immigration(PersonItems):
    """国外転入: arrival from abroad, into a new household or joining one."""

    kind = ChangeKind.IMMIGRATION
    address: str
    previous_address: str
    join_household_of: str | None = None
    relationship: str = HEAD
    individual_number: str | None = None  # a returning national keeps theirs


@dataclass(frozen=True, kw_only=True)
class Death(ChangeRequest):
    """死亡: the record is removed, effective on the date of death."""

    kind = ChangeKind.DEATH
    resident_code: str


@dataclass(frozen=True, kw_only=True)
class MoveIn(ChangeRequest):
    """転入: arrival with a move-out certificate from another municipality, or, for a special
    move (card holders), by resident code from the data the origin's CS sent ahead, on
    presentation of the card (``card_id``) of a resident who moved out with them."""

    kind = ChangeKind.MOVE_IN
    address: str
    certificate_id: str | None = None
    resident_code: str | None = None
    card_id: str | None = None
    join_household_of: str | None = None
    relationship: str = HEAD


@dataclass(frozen=True, kw_only=True)
class MoveOut(ChangeRequest):
    """転出: planned departure to another municipality; produces move-out certificates. A
    special move (at least one of the movers holds an active card) also sends them to the
    destination's CS (``destination_code``)."""

    kind = ChangeKind.MOVE_OUT
    resident_codes: list[str]
    destination: str
    destination_code: str | None = None
    special: bool = False


@dataclass(frozen=True, kw_only=True)
class Emigration(ChangeRequest):
    """国外転出: departure abroad."""

    kind = ChangeKind.EMIGRATION
    resident_codes: list[str]
    destination: str


@dataclass(frozen=True, kw_only=True)
class Relocation(ChangeRequest):
    """転居: new address inside the municipality for the listed members."""

    kind = ChangeKind.RELOCATION
    resident_codes: list[str]
    address: str


@dataclass(frozen=True, kw_only=True)
class NameChange(ChangeRequest):
    """氏名変更 (marriage, adoption, …): new name and reading, optionally a former surname."""

    kind = ChangeKind.NAME_CHANGE
    resident_code: str
    name: str
    name_kana: str
    former_surname: str | None = None


@dataclass(frozen=True, kw_only=True)
class Correction(ChangeRequest):
    """職権修正: the municipality corrects items of its own motion."""

    kind = ChangeKind.CORRECTION
    resident_code: str
    items: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class MinorCorrection(ChangeRequest):
    """軽微な修正: a non-standard character of the name or address to its common form."""

    kind = ChangeKind.MINOR_CORRECTION
    resident_code: str
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True, kw_only=True)
class ClericalFix(ChangeRequest):
    """誤記修正: snapshot ``seq`` held an input error; a new row carries the right items."""

    kind = ChangeKind.CLERICAL_FIX
    resident_code: str
    seq: int
    items: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class HouseholdChange(ChangeRequest):
    """世帯変更: ``split`` the members into a new household (first one heads it), ``merge`` them
    into the household of ``target_code``, or make the first member ``head`` of their household.
    ``relationships`` maps resident codes to their new relationship to the head."""

    kind = ChangeKind.HOUSEHOLD_CHANGE
    action: str
    resident_codes: list[str]
    target_code: str | None = None
    relationships: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ResidentCodeChange(ChangeRequest):
    """住民票コード変更 on request: a new random code, never chosen by anyone."""

    kind = ChangeKind.RESIDENT_CODE_CHANGE
    resident_code: str


@dataclass(frozen=True, kw_only=True)
class MoveInConfirmation(ChangeRequest):
    """転入通知 received: the origin finalises a removed record with the confirmed destination."""

    kind = ChangeKind.MOVE_IN_CONFIRMED
    certificate_id: str
    destination: str


@dataclass(frozen=True, kw_only=True)
class Cancellation(ChangeRequest):
    """取消: undo a committed change by appending compensating rows."""

    kind = ChangeKind.CANCELLATION
    change_id: int


REQUEST_TYPES: dict[ChangeKind, type[ChangeRequest]] = {
    cls.kind: cls
    for cls in (
        Birth,
        Death,
        MoveIn,
        Immigration,
        MoveOut,
        Emigration,
        Relocation,
        NameChange,
        Correction,
        MinorCorrection,
        ClericalFix,
        HouseholdChange,
        ResidentCodeChange,
        MoveInConfirmation,
        Cancellation,
    )
}


def request_fields(cls: type[ChangeRequest]) -> list[tuple[dataclasses.Field[Any], Any]]:
    """The fields of a request type with their resolved types."""
    hints = get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)]


def to_json(request: ChangeRequest) -> str:
    """Canonical JSON of a request (stored with its draft)."""
    data = {f.name: _dump(getattr(request, f.name)) for f in dataclasses.fields(request)}
    return json.dumps({"kind": request.kind.name, "fields": data}, ensure_ascii=False,
                      sort_keys=True)


def from_json(text: str) -> ChangeRequest:
    """Read back a request stored by ``to_json``."""
    data = json.loads(text)
    return build_request(ChangeKind[data["kind"]], data["fields"])


def build_request(kind: ChangeKind, values: dict[str, Any]) -> ChangeRequest:
    """Build a request of ``kind`` from plain values (strings, numbers, lists, dicts).

    Unknown or missing items and unreadable values raise ``InvalidInput`` naming the item.
    """
    cls = REQUEST_TYPES[kind]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise InvalidInput(f"unknown item(s) for {kind.name}: {', '.join(sorted(unknown))}",
                           field=sorted(unknown)[0])
    kwargs: dict[str, Any] = {}
    for f, hint in request_fields(cls):
        if f.name not in values or values[f.name] is None:
            if _optional(hint) or f.default is not dataclasses.MISSING or (
                f.default_factory is not dataclasses.MISSING
            ):
                continue
            raise InvalidInput(f"{f.name} is required for {kind.name}", field=f.name)
        kwargs[f.name] = parse_value(f.name, hint, values[f.name])
    return cls(**kwargs)


def parse_value(name: str, hint: Any, value: Any) -> Any:
    """Convert a plain value to the type ``hint`` or raise ``InvalidInput`` naming the item."""
    if _optional(hint):
        if value is None or value == "":
            return None
        hint = next(a for a in get_args(hint) if a is not type(None))
    try:
        if hint is str:
            if not isinstance(value, str):
                raise TypeError
            return value
        if hint is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "y", "on"):
                return True
            if text in ("0", "false", "no", "n", "off"):
                return False
            raise ValueError
        if hint is int:
            if isinstance(value, bool):
                raise TypeError
            return int(value)
        if hint is date:
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if hint is PartialDate:
            return value if isinstance(value, PartialDate) else PartialDate.parse(str(value))
        if hint is Sex:
            if isinstance(value, Sex):
                return value
            text = str(value).strip()
            by_name = {"m": Sex.MALE, "male": Sex.MALE, "男": Sex.MALE, "f": Sex.FEMALE,
                       "female": Sex.FEMALE, "女": Sex.FEMALE}
            return by_name[text.lower()] if text.lower() in by_name else Sex(int(text))
        if get_origin(hint) is list:
            items = value.split(",") if isinstance(value, str) else list(value)
            return [str(v).strip() for v in items if str(v).strip()]
        if get_origin(hint) is dict:
            if isinstance(value, dict):
                return {str(k): str(v) for k, v in value.items()}
            raise TypeError
    except (TypeError, ValueError, KeyError, DateError) as exc:
        raise InvalidInput(f"{name}: cannot read {value!r}", field=name) from exc
    raise InvalidInput(f"{name}: unsupported item type", field=name)


def _optional(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)


def _dump(value: Any) -> Any:
    if isinstance(value, PartialDate):
        return value.code
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Sex):
        return int(value)
    return value

