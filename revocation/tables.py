"""The revocation service's own tables (own metadata, migrations, version table; no foreign key
leaves the package: certificates are referenced by ``(issuer_key_id, serial)``).

- ``revocation_entries``: one row per revoked certificate, with its reason, cause, revocation
  time and invalidity date; never updated, never deleted;
- ``revocation_cursors`` / ``revocation_applied_notices``: how far the notice consumer has read,
  and every notice it applied (the idempotency log), committed together;
- ``revocation_code_links``: a former resident code and the code that replaced it (re-link);
- ``revocation_crl_numbers`` / ``revocation_crls``: the last CRL number of each partition, and
  the CRLs issued;
- ``revocation_ocsp_responses``: pre-signed OCSP responses, a cache that may be rebuilt;
- ``revocation_consents``: residents' consents to the latest-basic-four service, given and
  withdrawn (append-only: the latest entry of a resident is the current state);
- ``revocation_verifiers`` / ``revocation_verifier_log``: the registered verifiers (署名検証者)
  with the hash of their API key, and the append-only log of their registration, suspension
  and every use of a key (see ``verifiers``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Index,
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


class RevocationEntry(Base):
    """A revoked certificate (append-only): what, why, on whose word, since when."""

    __tablename__ = "revocation_entries"
    __table_args__ = (
        UniqueConstraint("issuer_key_id", "serial"),
        Index("ix_revocation_entries_partition", "issuer_key_id", "partition", "not_after"),
    )

    revocation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_key_id: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(48))  # decimal
    kind: Mapped[str] = mapped_column(String(8))  # sign, auth, ocsp, link
    resident_code: Mapped[str | None] = mapped_column(String(11), index=True)
    card_id: Mapped[str | None] = mapped_column(String(64))
    partition: Mapped[str | None] = mapped_column(String(6))  # issuing municipality
    not_after: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(24))  # RFC 5280 CRLReason, as ReasonFlags value
    cause: Mapped[str] = mapped_column(String(24))  # rules.Cause value
    cause_ref: Mapped[str | None] = mapped_column(String(128))  # notice id, request, ...
    operator: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime] = mapped_column(UtcDateTime())
    invalidity_date: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RevocationCursor(Base):
    """How far a consumer has read a feed (committed with what it applied)."""

    __tablename__ = "revocation_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AppliedNotice(Base):
    """A notice the consumer applied, with how many certificates it revoked."""

    __tablename__ = "revocation_applied_notices"

    notice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    resident_code: Mapped[str] = mapped_column(String(11))
    effective_on: Mapped[date] = mapped_column(Date)
    revoked: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CodeLink(Base):
    """A holder's former resident code and the code that replaced it."""

    __tablename__ = "revocation_code_links"

    previous_code: Mapped[str] = mapped_column(String(11), primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    notice_id: Mapped[str] = mapped_column(String(36))
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CrlNumber(Base):
    """The last CRL number taken for one partition (``full`` for a generation's full CRL)."""

    __tablename__ = "revocation_crl_numbers"

    issuer_key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partition: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)


class IssuedCrl(Base):
    """A signed CRL of one partition; the highest number is the current one."""

    __tablename__ = "revocation_crls"
    __table_args__ = (UniqueConstraint("issuer_key_id", "partition", "number"),)

    crl_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_key_id: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str] = mapped_column(String(6))
    number: Mapped[int] = mapped_column(BigInteger)
    this_update: Mapped[datetime] = mapped_column(UtcDateTime())
    next_update: Mapped[datetime] = mapped_column(UtcDateTime())
    entries: Mapped[int] = mapped_column(Integer)
    revocations_seen: Mapped[int] = mapped_column(Integer)  # entries ever in scope when read
    der: Mapped[bytes] = mapped_column(LargeBinary)


class OcspResponseRow(Base):
    """A pre-signed OCSP response (without nonce) for one certificate; a rebuildable cache."""

    __tablename__ = "revocation_ocsp_responses"

    issuer_key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    serial: Mapped[str] = mapped_column(String(48), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))  # good, revoked
    this_update: Mapped[datetime] = mapped_column(UtcDateTime())
    next_update: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)


class ConsentEntry(Base):
    """One consent given or withdrawn by a resident (append-only; see ``consents``)."""

    __tablename__ = "revocation_consents"
    __table_args__ = (Index("ix_revocation_consents_resident", "resident_code", "consent_id"),)

    consent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11))
    purpose: Mapped[str] = mapped_column(String(24))  # consents.ConsentPurpose value
    state: Mapped[str] = mapped_column(String(12))  # given, withdrawn
    channel: Mapped[str] = mapped_column(String(12))  # portal, counter
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class VerifierRow(Base):
    """A registered verifier; only a SHA-256 hash of its API key is kept (see ``verifiers``)."""

    __tablename__ = "revocation_verifiers"

    verifier_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # verifiers.VerifierKind value
    key_id: Mapped[str] = mapped_column(String(16), unique=True)  # public part of the key, hex
    key_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the whole key, hex
    state: Mapped[str] = mapped_column(String(12))  # active, suspended
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    registered_by: Mapped[str] = mapped_column(String(64))
    suspended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    suspended_by: Mapped[str | None] = mapped_column(String(64))


class VerifierLogEntry(Base):
    """One event of a verifier: registered, suspended, a key refused, a use (append-only)."""

    __tablename__ = "revocation_verifier_log"
    __table_args__ = (Index("ix_revocation_verifier_log_verifier", "verifier_id", "log_id"),)

    log_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    verifier_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(24))  # verifiers.Event value
    outcome: Mapped[str] = mapped_column(String(12))  # verifiers.LogOutcome value
    operator: Mapped[str | None] = mapped_column(String(64))
    issuer_key_id: Mapped[str | None] = mapped_column(String(64))
    serial: Mapped[str | None] = mapped_column(String(48))  # decimal
    detail: Mapped[str | None] = mapped_column(String(200))
