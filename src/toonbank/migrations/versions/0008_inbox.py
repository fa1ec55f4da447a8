"""inbox: routing profiles, the assignment log, private notes, queue order on conversations

Agents' availability, capacity, skills and languages (``agent_profiles``, also the row each
claim locks), who served which conversation (``inbox_assignments``, the sticky-agent memory),
private notes, and a conversation's queue priority, queued time and required skill.

Revision ID: 0008_inbox
Revises: 0006_commerce_orders
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import toonbank.models.base

revision: str = "0008_inbox"
down_revision: str | None = "0006_commerce_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("queued_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("routing_skill", sa.String(length=64), nullable=True))

    op.create_table(
        "agent_profiles",
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("availability", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("skills", JSON, nullable=False),
        sa.Column("languages", JSON, nullable=False),
        sa.Column(
            "last_assigned_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("updated_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_profiles_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_agent_profiles_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_profiles")),
    )
    with op.batch_alter_table("agent_profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_profiles_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "inbox_assignments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_inbox_assignments_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_inbox_assignments_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_inbox_assignments_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_inbox_assignments_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_assignments")),
    )
    with op.batch_alter_table("inbox_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_assignments_contact", ["contact_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_inbox_assignments_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "inbox_notes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_inbox_notes_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_inbox_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_inbox_notes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_notes")),
    )
    with op.batch_alter_table("inbox_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_notes_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_notes_conversation_id"))
    op.drop_table("inbox_notes")
    with op.batch_alter_table("inbox_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_assignments_conversation_id"))
        batch_op.drop_index("ix_inbox_assignments_contact")
    op.drop_table("inbox_assignments")
    with op.batch_alter_table("agent_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_profiles_workspace_id"))
    op.drop_table("agent_profiles")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("routing_skill")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("priority")
