"""The inbox: agents' routing profiles, the assignment log, private notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from toonbank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow
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


class InboxTeam(Base):
    """A team of agents with its business hours (``commerce.hours`` schedule, in ``timezone``)
    and optional SLA targets that override the workspace's. Conversations routed to a team wait
    in the queue while the team is closed."""

    __tablename__ = "inbox_teams"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    hours: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    """``{"mon": ["09:00-17:00"], ..., "exceptions": {"2026-12-25": []}}``; empty: always open."""
    first_response_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_response_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboxTeamMember(Base):
    __tablename__ = "inbox_team_members"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("inbox_teams.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))


class InboxConversation(Base):
    """Inbox state of one conversation: its team, who must not get it again after an
    auto-reassign, and the CSAT question and answer."""

    __tablename__ = "inbox_conversations"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[str | None] = mapped_column(
        ForeignKey("inbox_teams.id", ondelete="SET NULL"), nullable=True, index=True
    )
    skip_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    reassigned: Mapped[int] = mapped_column(Integer, default=0)
    csat_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    csat_language: Mapped[str | None] = mapped_column(String(15), nullable=True)
    csat_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    csat_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InboxLabel(Base):
    __tablename__ = "inbox_labels"
    __table_args__ = (
        UniqueConstraint("conversation_id", "label"),
        Index("ix_inbox_labels_workspace_label", "workspace_id", "label"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboxSlaMark(Base):
    """One SLA warning, breach or auto-reassign, recorded once: the unique key makes the
    periodic check idempotent across workers (whoever inserts the row announces it)."""

    __tablename__ = "inbox_sla_marks"
    __table_args__ = (UniqueConstraint("conversation_id", "kind", "due_at", "level"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    """``first`` or ``next`` (response), ``answer`` (auto-reassign)."""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    level: Mapped[str] = mapped_column(String(16))
    """``warning``, ``breached`` or ``reassigned``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
