"""provision to agencies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 11:03:35.994112
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provision_log",
        sa.Column("log_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("purpose_id", sa.String(length=40), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=True),
        sa.Column("lookup", sa.String(length=16), nullable=False),
        sa.Column("subject_resident_code", sa.String(length=11), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("masked_number", sa.String(length=12), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("log_id", name=op.f("pk_provision_log")),
    )
    with op.batch_alter_table("provision_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provision_log_subject_resident_code"),
            ["subject_resident_code"],
            unique=False,
        )

    op.create_table(
        "provision_purposes",
        sa.Column("purpose_id", sa.String(length=40), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("agency_name", sa.String(length=80), nullable=False),
        sa.Column("agency_kind", sa.String(length=8), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("individual_number", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("purpose_id", name=op.f("pk_provision_purposes")),
    )
    with op.batch_alter_table("provision_purposes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provision_purposes_agency"), ["agency"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("provision_purposes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provision_purposes_agency"))

    op.drop_table("provision_purposes")
    with op.batch_alter_table("provision_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provision_log_subject_resident_code"))

    op.drop_table("provision_log")
