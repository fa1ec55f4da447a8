"""unprocessed-messages index ordered by id

The process stage reads unanswered messages oldest first; an index on (id, conversation_id)
over just those rows serves that read directly instead of scanning all messages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 02:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "direction = 'in' AND processed_at IS NULL"


def _recreate(columns: list[str]) -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_unprocessed")
        batch_op.create_index(
            "ix_messages_unprocessed",
            columns,
            unique=False,
            sqlite_where=sa.text(WHERE),
            postgresql_where=sa.text(WHERE),
        )


def upgrade() -> None:
    _recreate(["id", "conversation_id"])


def downgrade() -> None:
    _recreate(["conversation_id", "id"])
