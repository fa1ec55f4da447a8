"""Reply suggestions in the inbox: the learned answer bank, the suggestions shown to agents,
the agents' decisions about them, and canned responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from toonbank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow
from toonbank.models.conversations import BigId


class AnswerEntry(Base):
    """One learned answer: a customer question (and its embedding) -> the agent's final reply.

    ``answer`` is stored as a template: facts of the customer it was written for (their order
    number, tracking code, name) are replaced by variables (``{{order.number}}``), so the
    entry answers the next customer with their own facts. ``penalty`` demotes an entry after
    rejections; it decays with a half-life from ``demoted_at``.
    """

    __tablename__ = "inbox_answers"
    __table_args__ = (Index("ix_inbox_answers_workspace_id_language", "workspace_id", "language"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    answer: Mapped[str] = mapped_column(Text)
    encoder: Mapped[str] = mapped_column(String(200))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    edited: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    penalty: Mapped[float] = mapped_column(Float, default=0.0)
    demoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    learned_from: Mapped[str] = mapped_column(String(16))
    """``accepted``, ``edited`` or ``written`` (the decision that last set the answer)."""
    agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReplySuggestion(Base):
    """A suggested reply to one inbound customer message (rank 0..2), with its sources."""

    __tablename__ = "inbox_suggestions"
    __table_args__ = (UniqueConstraint("message_id", "rank"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    answer_id: Mapped[str | None] = mapped_column(
        ForeignKey("inbox_answers.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open")
    """``open``, ``accepted``, ``edited`` or ``rejected``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SuggestionDecision(Base):
    """What an agent did with a suggestion (or wrote instead), with the diff."""

    __tablename__ = "inbox_suggestion_decisions"
    __table_args__ = (Index("ix_inbox_suggestion_decisions_workspace_id_id", "workspace_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    suggestion_id: Mapped[str | None] = mapped_column(
        ForeignKey("inbox_suggestions.id", ondelete="SET NULL"), nullable=True
    )
    sent_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True, unique=True
    )
    agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    action: Mapped[str] = mapped_column(String(16))
    """``accepted`` (sent as is), ``edited`` (sent after changes), ``rejected``, ``written``."""
    original: Mapped[str | None] = mapped_column(Text, nullable=True)
    final: Mapped[str | None] = mapped_column(Text, nullable=True)
    edit_distance: Mapped[int | None] = mapped_column(Integer, nullable=True)
    similarity: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CannedResponse(Base):
    """A reusable reply with variables (``{{contact.first_name}}``), per workspace."""

    __tablename__ = "inbox_canned_responses"
    __table_args__ = (UniqueConstraint("workspace_id", "shortcut", "language"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    shortcut: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    encoder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
