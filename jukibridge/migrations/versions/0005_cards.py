"""cards

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 11:36:02.579276
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cards",
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("signing_serial", sa.String(length=48), nullable=True),
        sa.Column("auth_serial", sa.String(length=48), nullable=False),
        sa.Column("identity_document", sa.String(length=60), nullable=False),
        sa.Column("operator", sa.String(length=40), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_cards_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_cards")),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cards_resident_code"), ["resident_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cards_resident_code"))

    op.drop_table("cards")
