"""The assistant's per-workspace data: business intents learned from examples."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from toonbank.models.base import Base, UTCDateTime, new_id, utcnow


class AssistantIntentExample(Base):
    """One example sentence of a business-defined intent (``text_key``: digest of the
    normalised text, so re-importing a file adds nothing twice)."""

    __tablename__ = "assistant_intent_examples"
    __table_args__ = (
        UniqueConstraint("workspace_id", "intent", "text_key"),
        Index("ix_assistant_intent_examples_workspace_id_intent", "workspace_id", "intent"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    intent: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    text_key: Mapped[str] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
