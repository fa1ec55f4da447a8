"""queue of inbound media to copy from the providers

Revision ID: 0004_media_fetches
Revises: 0003_contact_link_codes
Create Date: 2026-12-01 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import toonbank.models.base

revision: str = "0004_media_fetches"
down_revision: str | None = "0003_contact_link_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media_fetches",
        sa.Column(
            "message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("connection_id", sa.String(length=32), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("lease_until", toonbank.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["channel_connections.id"],
            name=op.f("fk_media_fetches_connection_id_channel_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_media_fetches_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_media_fetches_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_media_fetches")),
    )
    with op.batch_alter_table("media_fetches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_fetches_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_media_fetches_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("media_fetches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_fetches_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_media_fetches_next_attempt_at"))
    op.drop_table("media_fetches")
