"""The inbox: agents' routing profiles, the assignment log, private notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from toonbank.models.base import Base, JSONType, UTCDateTime, utcnow
from toonbank.models.conversations import BigId


class AgentProfile(Base):
    """How the router sees an agent: availability, capacity, skills and languages.

    The row is also the agent's routing lock: whoever assigns a conversation to an agent holds
    it (``FOR UPDATE`` on PostgreSQL) while counting the agent's open conversations, so two
    assignments can never both squeeze into the last free slot.
    """

    __tablename__ = "agent_profiles"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    availability: Mapped[str] = mapped_column(String(16), default="offline")
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    skills: Mapped[list[str]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboxAssignment(Base):
    """Who served which conversation, from when to when (also the sticky-agent memory)."""

    __tablename__ = "inbox_assignments"
    __table_args__ = (Index("ix_inbox_assignments_contact", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(64))
    how: Mapped[str] = mapped_column(String(16))
    """``take`` (the agent), ``route`` (the router), ``assign`` (a supervisor)."""
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)


class InboxNote(Base):
    """A private note on a conversation: agents only, never sent to the customer."""

    __tablename__ = "inbox_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
