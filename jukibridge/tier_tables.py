"""Tables of the Juki-net tiers: CS outboxes, prefecture and national stores, the notice feed.

Only identity info (本人確認情報) is ever stored above a municipality: name, former surname,
alias, birth date, sex, address, resident code, individual number, and the change reason and
date. Household, relationship, domicile and insurance data have no column here.

Each tier's tables are its own (prefixed ``cs_``, ``prefecture_``, ``national_``); no foreign key
crosses a tier, so each could live in its own database.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from jukibridge.tables import Base, UtcDateTime


class IdentityColumns:
    """The identity info carried by every tier event and kept by the upper stores."""

    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    individual_number: Mapped[str | None] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(120))
    former_surname: Mapped[str | None] = mapped_column(String(60))
    alias: Mapped[str | None] = mapped_column(String(120))
    birth_date: Mapped[str] = mapped_column(String(9))  # EYYYYMMDD
    sex: Mapped[int] = mapped_column(SmallInteger)
    address: Mapped[str] = mapped_column(String(200))
    municipality_code: Mapped[str] = mapped_column(String(6))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    change_reason: Mapped[str] = mapped_column(String(24))  # the change kind
    changed_on: Mapped[date] = mapped_column(Date)


class EventColumns(IdentityColumns):
    """An identity event as it travels up: what changed, from which change, in what order."""

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    origin_seq: Mapped[int] = mapped_column(Integer)  # the CS sequence number
    previous_resident_code: Mapped[str | None] = mapped_column(String(11))
    removal_reason: Mapped[str | None] = mapped_column(String(24))
    changed: Mapped[str] = mapped_column(Text)  # JSON list of identity items that changed
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


# -- communication server (CS) ------------------------------------------------------------------


class CsSequence(Base):
    """The last sequence number a municipality's CS handed out (row-locked while in use)."""

    __tablename__ = "cs_sequences"

    municipality_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class CsOutboxEvent(EventColumns, Base):
    """One identity event in a municipality's CS outbox, written with the change it reports."""

    __tablename__ = "cs_outbox"
    __table_args__ = (UniqueConstraint("municipality_code", "origin_seq"),)

    change_id: Mapped[int | None] = mapped_column(Integer)


# -- prefecture server ----------------------------------------------------------------------------


class PrefectureCursor(Base):
    """How far a prefecture server has read one municipality's CS outbox."""

    __tablename__ = "prefecture_cursors"

    prefecture_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class PrefectureEvent(EventColumns, Base):
    """An event the prefecture server applied; also its outbox towards the national server."""

    __tablename__ = "prefecture_events"
    __table_args__ = (UniqueConstraint("prefecture_code", "seq"),)

    prefecture_code: Mapped[str] = mapped_column(String(2))
    seq: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PrefectureIdentity(IdentityColumns, Base):
    """The identity info of one person as the prefecture server holds it."""

    __tablename__ = "prefecture_identities"
    __table_args__ = (UniqueConstraint("prefecture_code", "resident_code"),)

    identity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefecture_code: Mapped[str] = mapped_column(String(2))
    former_codes: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, oldest first
    last_event_id: Mapped[str] = mapped_column(String(36))


# -- national server ------------------------------------------------------------------------------


class NationalCursor(Base):
    """How far the national server has read one prefecture server's outbox."""

    __tablename__ = "national_cursors"

    prefecture_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class NationalEvent(EventColumns, Base):
    """An event the national server applied (the idempotency log of its applies)."""

    __tablename__ = "national_events"

    prefecture_code: Mapped[str] = mapped_column(String(2))
    prefecture_seq: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NationalIdentity(IdentityColumns, Base):
    """The identity info of one person as the national server holds it (one row per person,
    kept under the current resident code; earlier codes are in ``former_codes``)."""

    __tablename__ = "national_identities"
    __table_args__ = (UniqueConstraint("resident_code"),)

    identity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    former_codes: Mapped[str] = mapped_column(Text, default="[]")
    last_event_id: Mapped[str] = mapped_column(String(36))


class NationalSequence(Base):
    """Counters of the national server (the notice feed's sequence)."""

    __tablename__ = "national_sequences"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class RevocationNoticeRow(Base):
    """One revocation notice (異動等失効情報) in the national server's ordered, durable feed."""

    __tablename__ = "national_revocation_notices"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    notice_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    previous_resident_code: Mapped[str | None] = mapped_column(String(11))
    municipality_code: Mapped[str] = mapped_column(String(6))
    change_reason: Mapped[str] = mapped_column(String(24))
    effective_on: Mapped[date] = mapped_column(Date)
    changed: Mapped[str] = mapped_column(Text)  # JSON list of basic-four items
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


# -- CS to CS -----------------------------------------------------------------------------------


class CsMessage(Base):
    """A message from one municipality's CS to another's (move-in notices, special-move data).

    Municipality-to-municipality data (it may carry more than identity info) travels only here,
    never through the prefecture or national stores. The recipient's CS applies each message
    once, in ``message_id`` order, and stamps ``applied_at`` in the same transaction.
    """

    __tablename__ = "cs_messages"

    message_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_code: Mapped[str] = mapped_column(String(6))
    recipient_code: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[str] = mapped_column(Text)  # JSON
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    result: Mapped[str | None] = mapped_column(String(200))


class CsExpectedArrival(Base):
    """Special-move data a destination CS received: the move-in is keyed from it."""

    __tablename__ = "cs_expected_arrivals"
    __table_args__ = (UniqueConstraint("municipality_code", "certificate_id"),)

    arrival_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    resident_code: Mapped[str] = mapped_column(String(11), index=True)
    certificate_id: Mapped[str] = mapped_column(String(32))
    origin_code: Mapped[str] = mapped_column(String(6))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The active cards of the residents moving together (JSON list): the move-in is accepted
    # only on presentation of one of them.
    card_ids: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
