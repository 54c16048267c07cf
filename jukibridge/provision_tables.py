"""Tables of the provision of identity info (本人確認情報の提供) to agencies.

``provision_purposes`` is the table of statutory purposes (住民基本台帳法 別表): which agency may
ask, for which task, on which legal basis. ``provision_log`` records every request, provided or
refused; it is what a resident's disclosure request (提供状況の開示) reads. The log never holds a
full individual number, only the names of the items given and a masked number.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jukibridge.tables import Base, UtcDateTime


class ProvisionPurpose(Base):
    """One statutory purpose: an agency, its task and the legal basis of the provision."""

    __tablename__ = "provision_purposes"

    purpose_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agency: Mapped[str] = mapped_column(String(40), index=True)
    agency_name: Mapped[str] = mapped_column(String(80))
    agency_kind: Mapped[str] = mapped_column(String(8))  # AgencyKind value
    task: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(200))
    # Whether the individual number may be given for this task (番号利用法 tasks only).
    individual_number: Mapped[bool] = mapped_column(Boolean, default=False)


class ProvisionLogEntry(Base):
    """One request of an agency and its outcome (append-only)."""

    __tablename__ = "provision_log"

    log_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    agency: Mapped[str] = mapped_column(String(40))
    purpose_id: Mapped[str] = mapped_column(String(40))  # as asked: may name no purpose
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    lookup: Mapped[str] = mapped_column(String(16))  # "resident_code" | "basic_four"
    # The subject's resident code when known: the code asked for, or the one found.
    subject_resident_code: Mapped[str | None] = mapped_column(String(11), index=True)
    fields: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of items given
    masked_number: Mapped[str | None] = mapped_column(String(12))
    outcome: Mapped[str] = mapped_column(String(12))  # Outcome value
    reason: Mapped[str | None] = mapped_column(String(200))
