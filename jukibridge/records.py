"""Value types of the register: change kinds, record states and the resident record view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum, IntEnum
from typing import Any

from sqlalchemy import Row

from jukibridge.tables import Snapshot
from pki.eras import PartialDate


class ChangeKind(Enum):
    """Kinds of change (異動事由) with their Japanese label."""

    BIRTH = "出生"
    DEATH = "死亡"
    MOVE_IN = "転入"
    IMMIGRATION = "国外転入"
    MOVE_OUT = "転出"
    EMIGRATION = "国外転出"
    RELOCATION = "転居"
    NAME_CHANGE = "氏名変更"
    CORRECTION = "職権修正"
    MINOR_CORRECTION = "軽微な修正"
    CLERICAL_FIX = "誤記修正"
    HOUSEHOLD_CHANGE = "世帯変更"
    RESIDENT_CODE_CHANGE = "住民票コード変更"
    MOVE_IN_CONFIRMED = "転入通知受理"
    CANCELLATION = "取消"

    @property
    def label(self) -> str:
        return self.value


class ChangeStatus(Enum):
    DRAFT = "draft"  # 仮登録: invisible outside the register
    COMMITTED = "committed"  # 本登録
    CANCELLED = "cancelled"  # committed, then undone by a CANCELLATION


class RecordState(Enum):
    ACTIVE = "active"
    REMOVED = "removed"  # 除票: kept and queryable, never deleted


class Sex(IntEnum):
    """Sex as coded in identity info and the certificate (DESIGN.md §4)."""

    MALE = 1
    FEMALE = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return {1: "男", 2: "女", 3: "不詳"}[self.value]


class Role(Enum):
    """Operator roles: clerks enter and commit routine changes, supervisors commit the rest."""

    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"


HEAD = "世帯主"

DEFAULT_SUPERVISOR_KINDS = frozenset(
    {
        ChangeKind.CORRECTION,
        ChangeKind.CLERICAL_FIX,
        ChangeKind.RESIDENT_CODE_CHANGE,
        ChangeKind.CANCELLATION,
    }
)


@dataclass(frozen=True)
class ResidentRecord:
    """One snapshot of a resident record (住民票), as read from the register."""

    person_id: int
    seq: int
    change_id: int
    kind: ChangeKind
    effective_on: date
    notified_on: date | None
    operator: str
    remarks: str
    recorded_at: datetime
    corrects_seq: int | None
    state: RecordState
    municipality_code: str
    resident_code: str
    individual_number: str | None
    name: str
    name_kana: str
    former_surname: str | None
    alias: str | None
    alias_kana: str | None
    birth_date: PartialDate
    sex: Sex
    foreign_resident: bool
    nationality: str | None
    residence_status: str | None
    residence_period_end: date | None
    household_id: int | None
    relationship: str
    domicile: str | None
    domicile_head: str | None
    address: str
    previous_address: str | None
    became_resident_on: PartialDate
    address_fixed_on: PartialDate
    address_notified_on: date | None
    electoral_roll: bool
    national_health_insurance: bool
    long_term_care: bool
    national_pension: bool
    child_allowance: bool
    removal_reason: ChangeKind | None
    removed_on: date | None
    destination: str | None
    destination_confirmed_on: date | None

    @property
    def is_head(self) -> bool:
        return self.relationship == HEAD

    @classmethod
    def from_row(cls, row: Snapshot | Row[Any]) -> ResidentRecord:
        return cls(
            person_id=row.person_id,
            seq=row.seq,
            change_id=row.change_id,
            kind=ChangeKind[row.kind],
            effective_on=row.effective_on,
            notified_on=row.notified_on,
            operator=row.operator,
            remarks=row.remarks,
            recorded_at=row.recorded_at,
            corrects_seq=row.corrects_seq,
            state=RecordState(row.state),
            municipality_code=row.municipality_code,
            resident_code=row.resident_code,
            individual_number=row.individual_number,
            name=row.name,
            name_kana=row.name_kana,
            former_surname=row.former_surname,
            alias=row.alias,
            alias_kana=row.alias_kana,
            birth_date=PartialDate.from_code(row.birth_date),
            sex=Sex(row.sex),
            foreign_resident=row.foreign_resident,
            nationality=row.nationality,
            residence_status=row.residence_status,
            residence_period_end=row.residence_period_end,
            household_id=row.household_id,
            relationship=row.relationship,
            domicile=row.domicile,
            domicile_head=row.domicile_head,
            address=row.address,
            previous_address=row.previous_address,
            became_resident_on=PartialDate.from_code(row.became_resident_on),
            address_fixed_on=PartialDate.from_code(row.address_fixed_on),
            address_notified_on=row.address_notified_on,
            electoral_roll=row.electoral_roll,
            national_health_insurance=row.national_health_insurance,
            long_term_care=row.long_term_care,
            national_pension=row.national_pension,
            child_allowance=row.child_allowance,
            removal_reason=ChangeKind[row.removal_reason] if row.removal_reason else None,
            removed_on=row.removed_on,
            destination=row.destination,
            destination_confirmed_on=row.destination_confirmed_on,
        )
