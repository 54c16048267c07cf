"""special move cards

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cs_expected_arrivals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_ids", sa.Text(), nullable=False,
                                      server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("cs_expected_arrivals", schema=None) as batch_op:
        batch_op.drop_column("card_ids")
