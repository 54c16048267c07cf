"""residents' consents to the latest-basic-four service

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00
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
        "revocation_consents",
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consent_id", name=op.f("pk_revocation_consents")),
    )
    with op.batch_alter_table("revocation_consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_revocation_consents_resident", ["resident_code", "consent_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("revocation_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_revocation_consents_resident")

    op.drop_table("revocation_consents")
