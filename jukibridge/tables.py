"""The register's tables (SQLAlchemy 2.0 typed models). Schema changes go through Alembic.

History is append-only: ``record_snapshots`` holds one full row per change of a person, keyed
``(person_id, seq)``; ``persons`` only points at the current snapshot for fast lookups.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the register package; its metadata holds only register tables."""

    metadata = MetaData(naming_convention=NAMING)


class Municipality(Base):
    """A local government (市区町村 or 都道府県) from the shipped code table."""

    __tablename__ = "municipalities"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    prefecture_code: Mapped[str] = mapped_column(String(2))
    prefecture: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(40))
    name_kana: Mapped[str] = mapped_column(String(80))


class RegisterSettings(Base):
    """A municipality that keeps its register here, with its settings."""

    __tablename__ = "register_settings"

    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipalities.code"), primary_key=True
    )
    # Comma-separated ChangeKind names whose commit needs a supervisor (second operator).
    supervisor_kinds: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Household(Base):
    """A household (世帯); members and head are items of each member's snapshot."""

    __tablename__ = "households"

    household_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Person(Base):
    """The current state of a person known to one municipality (宛名番号 = ``person_id``)."""

    __tablename__ = "persons"

    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    current_seq: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8))  # RecordState value
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.household_id"))
    name_kana: Mapped[str] = mapped_column(String(100), index=True)
    birth_date: Mapped[str] = mapped_column(String(9), index=True)

    __table_args__ = (
        # At most one active record per resident code in the whole network.
        Index(
            "uq_persons_active_resident_code",
            "resident_code",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )


class Change(Base):
    """A change (異動) entered as a draft and committed; rejected drafts are deleted."""

    __tablename__ = "changes"

    change_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(10), index=True)  # ChangeStatus value
    payload: Mapped[str] = mapped_column(Text)  # JSON of the procedure's request
    effective_on: Mapped[date] = mapped_column(Date)
    notified_on: Mapped[date | None] = mapped_column(Date)
    remarks: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[str] = mapped_column(String(40))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    committed_by: Mapped[str | None] = mapped_column(String(40))
    committed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_by: Mapped[int | None] = mapped_column(Integer)  # change_id of the cancellation


class Snapshot(Base):
    """One full copy of a person's record after a change; never updated, never deleted."""

    __tablename__ = "record_snapshots"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.person_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.change_id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    effective_on: Mapped[date] = mapped_column(Date)
    notified_on: Mapped[date | None] = mapped_column(Date)
    operator: Mapped[str] = mapped_column(String(40))
    remarks: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    corrects_seq: Mapped[int | None] = mapped_column(Integer)  # clerical fix / cancellation

    state: Mapped[str] = mapped_column(String(8))
    municipality_code: Mapped[str] = mapped_column(String(6))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    individual_number: Mapped[str | None] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str] = mapped_column(String(100))
    former_surname: Mapped[str | None] = mapped_column(String(50))
    alias: Mapped[str | None] = mapped_column(String(100))
    alias_kana: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[str] = mapped_column(String(9))
    sex: Mapped[int] = mapped_column(SmallInteger)
    foreign_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    nationality: Mapped[str | None] = mapped_column(String(60))
    residence_status: Mapped[str | None] = mapped_column(String(60))
    residence_period_end: Mapped[date | None] = mapped_column(Date)
    household_id: Mapped[int | None] = mapped_column(Integer)
    relationship: Mapped[str] = mapped_column(String(30))
    domicile: Mapped[str | None] = mapped_column(String(200))
    domicile_head: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    previous_address: Mapped[str | None] = mapped_column(String(200))
    became_resident_on: Mapped[str] = mapped_column(String(9))
    address_fixed_on: Mapped[str] = mapped_column(String(9))
    address_notified_on: Mapped[date | None] = mapped_column(Date)
    electoral_roll: Mapped[bool] = mapped_column(Boolean, default=False)
    national_health_insurance: Mapped[bool] = mapped_column(Boolean, default=False)
    long_term_care: Mapped[bool] = mapped_column(Boolean, default=False)
    national_pension: Mapped[bool] = mapped_column(Boolean, default=False)
    child_allowance: Mapped[bool] = mapped_column(Boolean, default=False)
    removal_reason: Mapped[str | None] = mapped_column(String(24))
    removed_on: Mapped[date | None] = mapped_column(Date)
    destination: Mapped[str | None] = mapped_column(String(200))
    destination_confirmed_on: Mapped[date | None] = mapped_column(Date)


class IssuedCode(Base):
    """The national server's registry of every resident code and individual number it ever
    handed out (for individual numbers, the 11-digit body): never handed out twice."""

    __tablename__ = "issued_codes"

    value: Mapped[str] = mapped_column(String(12), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "resident_code" | "individual_number"
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    municipality_code: Mapped[str | None] = mapped_column(String(6))  # who received it


class CodePoolEntry(Base):
    """A resident code in a municipality's pool: handed out by the national server, used once."""

    __tablename__ = "cs_code_pools"

    resident_code: Mapped[str] = mapped_column(String(11), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MoveOutCertificateRow(Base):
    """A move-out certificate (転出証明書) produced by a committed move-out."""

    __tablename__ = "move_out_certificates"

    certificate_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    origin_code: Mapped[str] = mapped_column(String(6))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.person_id"))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON of the record items it carries
    planned_destination: Mapped[str] = mapped_column(String(200))
    planned_on: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_by_person_id: Mapped[int | None] = mapped_column(Integer)
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Operator(Base):
    """Staff who may use the register (操作者)."""

    __tablename__ = "operators"

    login: Mapped[str] = mapped_column(String(40), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipalities.code"))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(12))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AuditEntry(Base):
    """Append-only, hash-chained audit log of every register action."""

    __tablename__ = "audit_log"

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(40))
    municipality_code: Mapped[str | None] = mapped_column(String(6))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(80))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The one row naming the audit chain's newest entry (its id and hash).

    Every writer updates this row in the statement that appends its entry: the row lock
    serialises writers, and a writer that waited re-reads the row version its predecessor
    committed, so the chain never forks. It also lets ``audit.verify`` notice a truncated log.
    """

    __tablename__ = "audit_head"

    head_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class CardRow(Base):
    """A card issued at the counter (個人番号カード-style, virtual): who holds it, which
    certificates it carries, and its state. The CA keeps the certificates; this is the
    register's side of the enrolment."""

    __tablename__ = "cards"

    card_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.person_id"))
    signing_serial: Mapped[str | None] = mapped_column(String(48))
    auth_serial: Mapped[str] = mapped_column(String(48))
    identity_document: Mapped[str] = mapped_column(String(60))
    operator: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(10), default="active")  # active, lost, returned
    state_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
