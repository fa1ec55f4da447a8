"""The knowledge base: FAQ and policy articles per workspace, chunked for retrieval."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from toonbank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow
from toonbank.models.conversations import BigId


class KnowledgeArticle(Base):
    """One article in one language. Translations are separate rows sharing ``translation_key``;
    ``(slug, language)`` identifies an article within its workspace (imports upsert on it)."""

    __tablename__ = "knowledge_articles"
    __table_args__ = (
        UniqueConstraint("workspace_id", "slug", "language"),
        Index(
            "ix_knowledge_articles_workspace_id_translation_key", "workspace_id", "translation_key"
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    translation_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    source_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    """Digest of what retrieval sees (title, body, language): unchanged imports skip encoding."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KnowledgeChunk(Base):
    """A retrievable passage of an article with its sentence embedding (float32 bytes of the
    encoder named in ``encoder``; vectors of another encoder are recomputed on first search)."""

    __tablename__ = "knowledge_chunks"
    __table_args__ = (Index("ix_knowledge_chunks_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    article_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    encoder: Mapped[str] = mapped_column(String(200))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
