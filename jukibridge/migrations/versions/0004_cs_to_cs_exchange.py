"""cs to cs exchange

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:11:02.198580
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cs_expected_arrivals",
        sa.Column("arrival_id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("certificate_id", sa.String(length=32), nullable=False),
        sa.Column("origin_code", sa.String(length=6), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("arrival_id", name=op.f("pk_cs_expected_arrivals")),
        sa.UniqueConstraint(
            "municipality_code",
            "certificate_id",
            name=op.f("uq_cs_expected_arrivals_municipality_code"),
        ),
    )
    with op.batch_alter_table("cs_expected_arrivals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cs_expected_arrivals_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "cs_messages",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("sender_code", sa.String(length=6), nullable=False),
        sa.Column("recipient_code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_cs_messages")),
    )
    with op.batch_alter_table("cs_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cs_messages_recipient_code"), ["recipient_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cs_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cs_messages_recipient_code"))

    op.drop_table("cs_messages")
    with op.batch_alter_table("cs_expected_arrivals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cs_expected_arrivals_resident_code"))

    op.drop_table("cs_expected_arrivals")
