"""The CA's own tables (its own metadata, migrations and version table; no foreign key leaves).

- ``ca_generations``: each CA key generation with its self-signed certificate;
- ``ca_link_certificates``: old-with-new and new-with-old certificates of each rollover;
- ``ca_intended``: every serial with the intended certificate, written *before* the real
  signature (so a serial is never used twice, even if signing fails);
- ``ca_issued``: the issued certificates, append-only, linked to the holder's resident code and
  card. Nothing here is ever updated or deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
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
    """An aware UTC datetime on every backend."""

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
    metadata = MetaData(naming_convention=NAMING)


class CaGeneration(Base):
    """One key generation of the signing or the authentication CA."""

    __tablename__ = "ca_generations"
    __table_args__ = (UniqueConstraint("kind", "generation"),)

    generation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(4))  # "sign" or "auth"
    generation: Mapped[int] = mapped_column(Integer)
    key_label: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)  # SKI, hex
    certificate: Mapped[bytes] = mapped_column(LargeBinary)  # DER
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    not_after: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaLinkCertificate(Base):
    """A rollover's link certificate: ``subject_generation``'s key certified by the other's."""

    __tablename__ = "ca_link_certificates"
    __table_args__ = (UniqueConstraint("kind", "subject_generation", "issuer_generation"),)

    link_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(4))
    subject_generation: Mapped[int] = mapped_column(Integer)
    issuer_generation: Mapped[int] = mapped_column(Integer)
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IntendedCertificate(Base):
    """A serial taken, with the certificate it is meant for (linted, not yet really signed)."""

    __tablename__ = "ca_intended"
    __table_args__ = (UniqueConstraint("issuer_key_id", "serial"),)

    intended_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_key_id: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(48))  # decimal
    kind: Mapped[str] = mapped_column(String(8))  # sign, auth, ocsp, link
    resident_code: Mapped[str | None] = mapped_column(String(11), index=True)
    card_id: Mapped[str | None] = mapped_column(String(64))
    partition: Mapped[str | None] = mapped_column(String(6))  # issuing municipality
    tbs_certificate: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IssuedCertificate(Base):
    """An issued certificate (append-only)."""

    __tablename__ = "ca_issued"
    __table_args__ = (UniqueConstraint("issuer_key_id", "serial"),)

    issued_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_key_id: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(48))
    kind: Mapped[str] = mapped_column(String(8))
    resident_code: Mapped[str | None] = mapped_column(String(11), index=True)
    card_id: Mapped[str | None] = mapped_column(String(64), index=True)
    partition: Mapped[str | None] = mapped_column(String(6))
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    not_after: Mapped[datetime] = mapped_column(UtcDateTime())
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
