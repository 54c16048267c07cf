"""the certificate authority

Revision ID: 0001
Revises:
Create Date: 2026-11-27 11:30:14.150541
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
        "ca_generations",
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("key_label", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("generation_id", name=op.f("pk_ca_generations")),
        sa.UniqueConstraint("key_id", name=op.f("uq_ca_generations_key_id")),
        sa.UniqueConstraint("key_label", name=op.f("uq_ca_generations_key_label")),
        sa.UniqueConstraint("kind", "generation", name=op.f("uq_ca_generations_kind")),
    )
    op.create_table(
        "ca_intended",
        sa.Column("intended_id", sa.Integer(), nullable=False),
        sa.Column("issuer_key_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=True),
        sa.Column("card_id", sa.String(length=64), nullable=True),
        sa.Column("partition", sa.String(length=6), nullable=True),
        sa.Column("tbs_certificate", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("intended_id", name=op.f("pk_ca_intended")),
        sa.UniqueConstraint("issuer_key_id", "serial", name=op.f("uq_ca_intended_issuer_key_id")),
    )
    with op.batch_alter_table("ca_intended", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ca_intended_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "ca_issued",
        sa.Column("issued_id", sa.Integer(), nullable=False),
        sa.Column("issuer_key_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=48), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("resident_code", sa.String(length=11), nullable=True),
        sa.Column("card_id", sa.String(length=64), nullable=True),
        sa.Column("partition", sa.String(length=6), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issued_id", name=op.f("pk_ca_issued")),
        sa.UniqueConstraint("issuer_key_id", "serial", name=op.f("uq_ca_issued_issuer_key_id")),
    )
    with op.batch_alter_table("ca_issued", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ca_issued_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ca_issued_resident_code"), ["resident_code"], unique=False
        )

    op.create_table(
        "ca_link_certificates",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("subject_generation", sa.Integer(), nullable=False),
        sa.Column("issuer_generation", sa.Integer(), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("link_id", name=op.f("pk_ca_link_certificates")),
        sa.UniqueConstraint(
            "kind",
            "subject_generation",
            "issuer_generation",
            name=op.f("uq_ca_link_certificates_kind"),
        ),
    )


def downgrade() -> None:
    op.drop_table("ca_link_certificates")
    with op.batch_alter_table("ca_issued", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ca_issued_resident_code"))
        batch_op.drop_index(batch_op.f("ix_ca_issued_card_id"))

    op.drop_table("ca_issued")
    with op.batch_alter_table("ca_intended", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ca_intended_resident_code"))

    op.drop_table("ca_intended")
    op.drop_table("ca_generations")
