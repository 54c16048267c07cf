"""registered verifiers and their log

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 10:00:00
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
        "revocation_verifiers",
        sa.Column("verifier_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suspended_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("verifier_id", name=op.f("pk_revocation_verifiers")),
        sa.UniqueConstraint("key_id", name=op.f("uq_revocation_verifiers_key_id")),
        sa.UniqueConstraint("name", name=op.f("uq_revocation_verifiers_name")),
    )
    op.create_table(
        "revocation_verifier_log",
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verifier_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("issuer_key_id", sa.String(length=64), nullable=True),
        sa.Column("serial", sa.String(length=48), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("log_id", name=op.f("pk_revocation_verifier_log")),
    )
    with op.batch_alter_table("revocation_verifier_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_revocation_verifier_log_verifier", ["verifier_id", "log_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("revocation_verifier_log", schema=None) as batch_op:
        batch_op.drop_index("ix_revocation_verifier_log_verifier")

    op.drop_table("revocation_verifier_log")
    op.drop_table("revocation_verifiers")
