"""the juki-net tiers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:56:51.168425
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cs_outbox",
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("origin_seq", sa.Integer(), nullable=False),
        sa.Column("previous_resident_code", sa.String(length=11), nullable=True),
        sa.Column("removal_reason", sa.String(length=24), nullable=True),
        sa.Column("changed", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("individual_number", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("former_surname", sa.String(length=60), nullable=True),
        sa.Column("alias", sa.String(length=120), nullable=True),
        sa.Column("birth_date", sa.String(length=9), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("change_reason", sa.String(length=24), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_cs_outbox")),
        sa.UniqueConstraint(
            "municipality_code", "origin_seq", name=op.f("uq_cs_outbox_municipality_code")
        ),
    )
    with op.batch_alter_table("cs_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cs_outbox_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "cs_sequences",
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("municipality_code", name=op.f("pk_cs_sequences")),
    )
    op.create_table(
        "national_cursors",
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefecture_code", name=op.f("pk_national_cursors")),
    )
    op.create_table(
        "national_events",
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("prefecture_seq", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("origin_seq", sa.Integer(), nullable=False),
        sa.Column("previous_resident_code", sa.String(length=11), nullable=True),
        sa.Column("removal_reason", sa.String(length=24), nullable=True),
        sa.Column("changed", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("individual_number", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("former_surname", sa.String(length=60), nullable=True),
        sa.Column("alias", sa.String(length=120), nullable=True),
        sa.Column("birth_date", sa.String(length=9), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("change_reason", sa.String(length=24), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_national_events")),
    )
    with op.batch_alter_table("national_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_national_events_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "national_identities",
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("former_codes", sa.Text(), nullable=False),
        sa.Column("last_event_id", sa.String(length=36), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("individual_number", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("former_surname", sa.String(length=60), nullable=True),
        sa.Column("alias", sa.String(length=120), nullable=True),
        sa.Column("birth_date", sa.String(length=9), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("change_reason", sa.String(length=24), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("identity_id", name=op.f("pk_national_identities")),
        sa.UniqueConstraint("resident_code", name=op.f("uq_national_identities_resident_code")),
    )
    with op.batch_alter_table("national_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_national_identities_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "national_revocation_notices",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("previous_resident_code", sa.String(length=11), nullable=True),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("change_reason", sa.String(length=24), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("changed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_national_revocation_notices")),
        sa.UniqueConstraint("event_id", name=op.f("uq_national_revocation_notices_event_id")),
        sa.UniqueConstraint("notice_id", name=op.f("uq_national_revocation_notices_notice_id")),
    )
    with op.batch_alter_table("national_revocation_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_national_revocation_notices_resident_code"),
            ["resident_code"],
            unique=False,
        )

    op.create_table(
        "national_sequences",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_national_sequences")),
    )
    op.create_table(
        "prefecture_cursors",
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "prefecture_code", "municipality_code", name=op.f("pk_prefecture_cursors")
        ),
    )
    op.create_table(
        "prefecture_events",
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("origin_seq", sa.Integer(), nullable=False),
        sa.Column("previous_resident_code", sa.String(length=11), nullable=True),
        sa.Column("removal_reason", sa.String(length=24), nullable=True),
        sa.Column("changed", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("individual_number", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("former_surname", sa.String(length=60), nullable=True),
        sa.Column("alias", sa.String(length=120), nullable=True),
        sa.Column("birth_date", sa.String(length=9), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("change_reason", sa.String(length=24), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_prefecture_events")),
        sa.UniqueConstraint(
            "prefecture_code", "seq", name=op.f("uq_prefecture_events_prefecture_code")
        ),
    )
    with op.batch_alter_table("prefecture_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prefecture_events_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "prefecture_identities",
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("former_codes", sa.Text(), nullable=False),
        sa.Column("last_event_id", sa.String(length=36), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("individual_number", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("former_surname", sa.String(length=60), nullable=True),
        sa.Column("alias", sa.String(length=120), nullable=True),
        sa.Column("birth_date", sa.String(length=9), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("change_reason", sa.String(length=24), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("identity_id", name=op.f("pk_prefecture_identities")),
        sa.UniqueConstraint(
            "prefecture_code",
            "resident_code",
            name=op.f("uq_prefecture_identities_prefecture_code"),
        ),
    )
    with op.batch_alter_table("prefecture_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prefecture_identities_resident_code"), ["resident_code"], unique=False
        )

    # Registers opened before the tiers existed get their CS sequence.
    op.execute(
        "INSERT INTO cs_sequences (municipality_code, last_seq) "
        "SELECT municipality_code, 0 FROM register_settings"
    )


def downgrade() -> None:
    with op.batch_alter_table("prefecture_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prefecture_identities_resident_code"))

    op.drop_table("prefecture_identities")
    with op.batch_alter_table("prefecture_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prefecture_events_resident_code"))

    op.drop_table("prefecture_events")
    op.drop_table("prefecture_cursors")
    op.drop_table("national_sequences")
    with op.batch_alter_table("national_revocation_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_national_revocation_notices_resident_code"))

    op.drop_table("national_revocation_notices")
    with op.batch_alter_table("national_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_national_identities_resident_code"))

    op.drop_table("national_identities")
    with op.batch_alter_table("national_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_national_events_resident_code"))

    op.drop_table("national_events")
    op.drop_table("national_cursors")
    op.drop_table("cs_sequences")
    with op.batch_alter_table("cs_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cs_outbox_resident_code"))

    op.drop_table("cs_outbox")
