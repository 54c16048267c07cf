"""the revocation service

Revision ID: 0001
Revises:
Create Date: 2026-11-27 11:43:17.020433
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
        "revocation_applied_notices",
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("revoked", sa.Integer(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_revocation_applied_notices")),
    )
    op.create_table(
        "revocation_code_links",
        sa.Column("previous_code", sa.String(length=11), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=False),
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("previous_code", name=op.f("pk_revocation_code_links")),
    )
    with op.batch_alter_table("revocation_code_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revocation_code_links_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "revocation_crl_numbers",
        sa.Column("issuer_key_id", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(length=6), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "issuer_key_id", "partition", name=op.f("pk_revocation_crl_numbers")
        ),
    )
    op.create_table(
        "revocation_crls",
        sa.Column("crl_id", sa.Integer(), nullable=False),
        sa.Column("issuer_key_id", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(length=6), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("revocations_seen", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("crl_id", name=op.f("pk_revocation_crls")),
        sa.UniqueConstraint(
            "issuer_key_id", "partition", "number", name=op.f("uq_revocation_crls_issuer_key_id")
        ),
    )
    op.create_table(
        "revocation_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_revocation_cursors")),
    )
    op.create_table(
        "revocation_entries",
        sa.Column("revocation_id", sa.Integer(), nullable=False),
        sa.Column("issuer_key_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=True),
        sa.Column("card_id", sa.String(length=64), nullable=True),
        sa.Column("partition", sa.String(length=6), nullable=True),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("cause", sa.String(length=24), nullable=False),
        sa.Column("cause_ref", sa.String(length=128), nullable=True),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invalidity_date", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("revocation_id", name=op.f("pk_revocation_entries")),
        sa.UniqueConstraint(
            "issuer_key_id", "serial", name=op.f("uq_revocation_entries_issuer_key_id")
        ),
    )
    with op.batch_alter_table("revocation_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_revocation_entries_partition",
            ["issuer_key_id", "partition", "not_after"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_revocation_entries_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "revocation_ocsp_responses",
        sa.Column("issuer_key_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "issuer_key_id", "serial", name=op.f("pk_revocation_ocsp_responses")
        ),
    )
    with op.batch_alter_table("revocation_ocsp_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revocation_ocsp_responses_next_update"), ["next_update"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("revocation_ocsp_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revocation_ocsp_responses_next_update"))

    op.drop_table("revocation_ocsp_responses")
    with op.batch_alter_table("revocation_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revocation_entries_resident_code"))
        batch_op.drop_index("ix_revocation_entries_partition")

    op.drop_table("revocation_entries")
    op.drop_table("revocation_cursors")
    op.drop_table("revocation_crls")
    op.drop_table("revocation_crl_numbers")
    with op.batch_alter_table("revocation_code_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revocation_code_links_resident_code"))

    op.drop_table("revocation_code_links")
    op.drop_table("revocation_applied_notices")
