"""audit chain head

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    head = op.create_table(
        "audit_head",
        sa.Column("head_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("head_id", name=op.f("pk_audit_head")),
    )
    last = op.get_bind().execute(sa.text(
        "SELECT entry_id, prev_hash, entry_hash FROM audit_log "
        "ORDER BY entry_id DESC LIMIT 1")).first()
    op.bulk_insert(head, [{
        "head_id": 1,
        "entry_id": last[0] if last else 0,
        "prev_hash": last[1] if last else GENESIS,
        "entry_hash": last[2] if last else GENESIS,
    }])


def downgrade() -> None:
    op.drop_table("audit_head")
