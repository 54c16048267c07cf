"""national code pools

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 11:46:07.137741
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cs_code_pools",
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("resident_code", name=op.f("pk_cs_code_pools")),
    )
    with op.batch_alter_table("cs_code_pools", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cs_code_pools_municipality_code"), ["municipality_code"], unique=False
        )

    with op.batch_alter_table("issued_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("municipality_code", sa.String(length=6), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issued_codes", schema=None) as batch_op:
        batch_op.drop_column("municipality_code")

    with op.batch_alter_table("cs_code_pools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cs_code_pools_municipality_code"))

    op.drop_table("cs_code_pools")
