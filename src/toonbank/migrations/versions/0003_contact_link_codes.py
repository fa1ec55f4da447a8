"""one-time codes that link a channel identity to a contact

Revision ID: 0003_contact_link_codes
Revises: 0002
Create Date: 2026-12-01 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import toonbank.models.base

revision: str = "0003_contact_link_codes"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_link_codes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_link_codes_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_contact_link_codes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_link_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_contact_link_codes_code_hash")),
    )
    with op.batch_alter_table("contact_link_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_link_codes_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contact_link_codes_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_link_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_link_codes_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_contact_link_codes_contact_id"))
    op.drop_table("contact_link_codes")
