"""assistant: business intents learned from examples, per workspace

Revision ID: 0009_assistant_intents
Revises: 0008_inbox
Create Date: 2026-12-01 19:40:00

0006 (commerce orders) was not on main yet when this was written; the lead renumbers
``down_revision`` to "0006_commerce_orders" at merge time if that lands first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import toonbank.models.base

revision: str = "0009_assistant_intents"
down_revision: str | None = "0008_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistant_intent_examples",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_key", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("created_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_assistant_intent_examples_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistant_intent_examples")),
        sa.UniqueConstraint(
            "workspace_id",
            "intent",
            "text_key",
            name=op.f("uq_assistant_intent_examples_workspace_id_intent_text_key"),
        ),
    )
    with op.batch_alter_table("assistant_intent_examples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assistant_intent_examples_workspace_id_intent",
            ["workspace_id", "intent"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("assistant_intent_examples", schema=None) as batch_op:
        batch_op.drop_index("ix_assistant_intent_examples_workspace_id_intent")
    op.drop_table("assistant_intent_examples")
