"""Conversations, their status history and their messages (inbound and the outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from toonbank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow

BigId = BigInteger().with_variant(Integer, "sqlite")


class Conversation(Base):
    """One open conversation per contact at a time (a partial unique index enforces it).

    ``lease_owner``/``lease_until`` let exactly one worker process a conversation's messages,
    in order; an expired lease (crashed worker) is taken over.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        Index(
            "ux_conversations_open_contact",
            "contact_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_conversations_workspace_status", "workspace_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="bot")
    assigned_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    last_connection_id: Mapped[str | None] = mapped_column(
        ForeignKey("channel_connections.id", ondelete="SET NULL"), nullable=True
    )
    language: Mapped[str | None] = mapped_column(String(15), nullable=True)
    bot_state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    close_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Inbox queue order: higher first, then the longest waiting (``queued_at``)."""
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    routing_skill: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """A skill the serving agent must have (e.g. ``styling``); None: anyone."""


class ConversationTransition(Base):
    __tablename__ = "conversation_transitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Message(Base):
    """A message in either direction. Outbound rows *are* the outbox.

    Inbound: unique per (connection, direction, provider id) — the deduplication key.
    Outbound: ``status`` queued → sending → sent → delivered → read, or failed; the dispatcher
    claims a row with a lease and records every attempt in ``delivery_attempts``.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("connection_id", "direction", "provider_message_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index(
            "ix_messages_unprocessed",
            "id",
            "conversation_id",
            sqlite_where=text("direction = 'in' AND processed_at IS NULL"),
            postgresql_where=text("direction = 'in' AND processed_at IS NULL"),
        ),
        Index(
            "ix_messages_outbox",
            "next_attempt_at",
            sqlite_where=text("status IN ('queued', 'sending')"),
            postgresql_where=text("status IN ('queued', 'sending')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    connection_id: Mapped[str | None] = mapped_column(
        ForeignKey("channel_connections.id", ondelete="SET NULL"), nullable=True
    )
    direction: Mapped[str] = mapped_column(String(3))
    sender: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    provider_message_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    recipient: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reply_to_provider_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    provider_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def is_outbox(message: Any) -> ColumnElement[bool]:
    """Outbound and not yet handed over: the outbox (matches ``ix_messages_outbox``).

    Written with literal constants on purpose: a planner can only use a partial index when the
    query's condition visibly implies the index's, which bound parameters hide.
    """
    return and_(
        message.direction == literal_column("'out'"),
        message.status.in_([literal_column("'queued'"), literal_column("'sending'")]),
    )


def is_unprocessed(message: Any) -> ColumnElement[bool]:
    """Customer messages not yet answered (matches ``ix_messages_unprocessed``)."""
    return and_(message.direction == literal_column("'in'"), message.processed_at.is_(None))


class DeliveryAttempt(Base):
    """One try at handing an outbound message to its provider."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="started")
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    retry_after: Mapped[float | None] = mapped_column(nullable=True)


class PendingReceipt(Base):
    """A delivery receipt that arrived before we learned the provider's message id.

    Providers may call the status webhook before their send API call has returned to us; the
    receipt waits here and is applied the moment the dispatcher records the id.
    """

    __tablename__ = "pending_receipts"
    __table_args__ = (Index("ix_pending_receipts_lookup", "connection_id", "provider_message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("channel_connections.id", ondelete="CASCADE")
    )
    provider_message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
