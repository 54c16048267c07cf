"""the resident register

Revision ID: 0001
Revises:
Create Date: 2026-11-24 19:40:01.463362
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("entry_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "issued_codes",
        sa.Column("value", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("value", name=op.f("pk_issued_codes")),
    )
    op.create_table(
        "municipalities",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("prefecture_code", sa.String(length=2), nullable=False),
        sa.Column("prefecture", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("name_kana", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_municipalities")),
    )
    op.create_table(
        "changes",
        sa.Column("change_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("remarks", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(length=40), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("committed_by", sa.String(length=40), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_changes_municipality_code_municipalities"),
        ),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_changes")),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_changes_municipality_code"), ["municipality_code"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_changes_status"), ["status"], unique=False)

    op.create_table(
        "households",
        sa.Column("household_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_households_municipality_code_municipalities"),
        ),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_households")),
    )
    op.create_table(
        "operators",
        sa.Column("login", sa.String(length=40), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_operators_municipality_code_municipalities"),
        ),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_operators")),
    )
    op.create_table(
        "register_settings",
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("supervisor_kinds", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_register_settings_municipality_code_municipalities"),
        ),
        sa.PrimaryKeyConstraint("municipality_code", name=op.f("pk_register_settings")),
    )
    op.create_table(
        "persons",
        sa.Column("person_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("current_seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.String(length=9), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.household_id"],
            name=op.f("fk_persons_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_persons_municipality_code_municipalities"),
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_persons")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persons_birth_date"), ["birth_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_persons_name_kana"), ["name_kana"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_persons_resident_code"), ["resident_code"], unique=False
        )
        batch_op.create_index(
            "uq_persons_active_resident_code",
            ["resident_code"],
            unique=True,
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )

    op.create_table(
        "move_out_certificates",
        sa.Column("certificate_id", sa.String(length=32), nullable=False),
        sa.Column("origin_code", sa.String(length=6), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("planned_destination", sa.String(length=200), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_by_person_id", sa.Integer(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_move_out_certificates_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("certificate_id", name=op.f("pk_move_out_certificates")),
    )
    with op.batch_alter_table("move_out_certificates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_move_out_certificates_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "record_snapshots",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("operator", sa.String(length=40), nullable=False),
        sa.Column("remarks", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("corrects_seq", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("individual_number", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_kana", sa.String(length=100), nullable=False),
        sa.Column("former_surname", sa.String(length=50), nullable=True),
        sa.Column("alias", sa.String(length=100), nullable=True),
        sa.Column("alias_kana", sa.String(length=100), nullable=True),
        sa.Column("birth_date", sa.String(length=9), nullable=False),
        sa.Column("sex", sa.SmallInteger(), nullable=False),
        sa.Column("foreign_resident", sa.Boolean(), nullable=False),
        sa.Column("nationality", sa.String(length=60), nullable=True),
        sa.Column("residence_status", sa.String(length=60), nullable=True),
        sa.Column("residence_period_end", sa.Date(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("relationship", sa.String(length=30), nullable=False),
        sa.Column("domicile", sa.String(length=200), nullable=True),
        sa.Column("domicile_head", sa.String(length=100), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("previous_address", sa.String(length=200), nullable=True),
        sa.Column("became_resident_on", sa.String(length=9), nullable=False),
        sa.Column("address_fixed_on", sa.String(length=9), nullable=False),
        sa.Column("address_notified_on", sa.Date(), nullable=True),
        sa.Column("electoral_roll", sa.Boolean(), nullable=False),
        sa.Column("national_health_insurance", sa.Boolean(), nullable=False),
        sa.Column("long_term_care", sa.Boolean(), nullable=False),
        sa.Column("national_pension", sa.Boolean(), nullable=False),
        sa.Column("child_allowance", sa.Boolean(), nullable=False),
        sa.Column("removal_reason", sa.String(length=24), nullable=True),
        sa.Column("removed_on", sa.Date(), nullable=True),
        sa.Column("destination", sa.String(length=200), nullable=True),
        sa.Column("destination_confirmed_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"], ["changes.change_id"], name=op.f("fk_record_snapshots_change_id_changes")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_record_snapshots_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("person_id", "seq", name=op.f("pk_record_snapshots")),
    )
    with op.batch_alter_table("record_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_record_snapshots_change_id"), ["change_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_record_snapshots_individual_number"), ["individual_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_record_snapshots_resident_code"), ["resident_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("record_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_snapshots_resident_code"))
        batch_op.drop_index(batch_op.f("ix_record_snapshots_individual_number"))
        batch_op.drop_index(batch_op.f("ix_record_snapshots_change_id"))

    op.drop_table("record_snapshots")
    with op.batch_alter_table("move_out_certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_move_out_certificates_resident_code"))

    op.drop_table("move_out_certificates")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_persons_active_resident_code",
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_persons_resident_code"))
        batch_op.drop_index(batch_op.f("ix_persons_name_kana"))
        batch_op.drop_index(batch_op.f("ix_persons_birth_date"))

    op.drop_table("persons")
    op.drop_table("register_settings")
    op.drop_table("operators")
    op.drop_table("households")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_changes_status"))
        batch_op.drop_index(batch_op.f("ix_changes_municipality_code"))

    op.drop_table("changes")
    op.drop_table("municipalities")
    op.drop_table("issued_codes")
    op.drop_table("audit_log")
