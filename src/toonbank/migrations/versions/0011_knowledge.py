"""knowledge base (articles, chunks with embeddings) and an index for assistant metrics

Revision ID: 0011_knowledge
Revises: 0010_commerce_fulfilment
Create Date: 2026-12-01 21:33:14

``ix_events_assistant`` is partial (``type LIKE 'assistant.%'``): metrics read assistant
events by workspace and time; every other event insert pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import toonbank.models.base

revision: str = "0011_knowledge"
down_revision: str | None = "0010_commerce_fulfilment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("translation_key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("source_url", sa.String(length=1000), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", toonbank.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_knowledge_articles_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_articles")),
        sa.UniqueConstraint(
            "workspace_id",
            "slug",
            "language",
            name=op.f("uq_knowledge_articles_workspace_id_slug_language"),
        ),
    )
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_knowledge_articles_workspace_id_translation_key",
            ["workspace_id", "translation_key"],
            unique=False,
        )

    op.create_table(
        "knowledge_chunks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("encoder", sa.String(length=200), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_chunks_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_knowledge_chunks_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_chunks")),
    )
    with op.batch_alter_table("knowledge_chunks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_chunks_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(
            "ix_knowledge_chunks_workspace_id_id", ["workspace_id", "id"], unique=False
        )

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_assistant",
            ["workspace_id", "created_at"],
            unique=False,
            sqlite_where=sa.text("type LIKE 'assistant.%'"),
            postgresql_where=sa.text("type LIKE 'assistant.%'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_events_assistant",
            sqlite_where=sa.text("type LIKE 'assistant.%'"),
            postgresql_where=sa.text("type LIKE 'assistant.%'"),
        )

    with op.batch_alter_table("knowledge_chunks", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_chunks_workspace_id_id")
        batch_op.drop_index(batch_op.f("ix_knowledge_chunks_article_id"))

    op.drop_table("knowledge_chunks")
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_articles_workspace_id_translation_key")

    op.drop_table("knowledge_articles")
