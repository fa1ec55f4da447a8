"""commerce: audit trail of recommendations (request, signals, products, reasons)

Revision ID: 0014_recommendations
Revises: 0013_inbox_teams_sla
Create Date: 2026-12-01 22:05:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import toonbank.models.base

revision: str = "0014_recommendations"
down_revision: str | None = "0013_inbox_teams_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("request", _json(), nullable=False),
        sa.Column("signals", _json(), nullable=False),
        sa.Column("product_ids", _json(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("groups", _json(), nullable=False),
        sa.Column("created_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_recommendations_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_recommendations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
    )
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.create_index("ix_recommendations_contact_id", ["contact_id"], unique=False)
        batch_op.create_index(
            "ix_recommendations_workspace_id_created_at",
            ["workspace_id", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.drop_index("ix_recommendations_workspace_id_created_at")
        batch_op.drop_index("ix_recommendations_contact_id")
    op.drop_table("recommendations")
