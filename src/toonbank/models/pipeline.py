"""The inbound ledger, the event log and stored media."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from toonbank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow
from toonbank.models.conversations import BigId


class InboundEvent(Base):
    """A verified, parsed webhook event, stored once per (connection, dedupe key).

    Ingest only writes these rows (fast acknowledgement); the worker turns them into contacts,
    conversations, messages and receipt updates in arrival order.
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("connection_id", "dedupe_key"),
        Index(
            "ix_inbound_events_pending",
            "id",
            sqlite_where=text("processed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("channel_connections.id", ondelete="CASCADE")
    )
    dedupe_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Event(Base):
    """The durable, ordered event log: what clients replay from ``last_event_id``."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_conversation_id_id", "conversation_id", "id"),
        Index("ix_events_contact_id_id", "contact_id", "id"),
        # Assistant metrics read only assistant.* events of a workspace over a time window;
        # a partial index keeps the hot insert path of every other event untouched.
        Index(
            "ix_events_assistant",
            "workspace_id",
            "created_at",
            sqlite_where=text("type LIKE 'assistant.%'"),
            postgresql_where=text("type LIKE 'assistant.%'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True
    )
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True
    )
    type: Mapped[str] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(default=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkerLease(Base):
    """A named singleton job (e.g. the inbound normalizer) owned by one worker at a time."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class MediaObject(Base):
    """An uploaded or downloaded file, kept in the database so every process can serve it."""

    __tablename__ = "media"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    filename: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MediaFetch(Base):
    """An inbound message whose media Toonbank still has to copy from the provider.

    Provider media are references (an id behind the provider's API, an expiring CDN link);
    the media stage downloads each into :class:`MediaObject` and points the message at it.
    """

    __tablename__ = "media_fetches"

    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    connection_id: Mapped[str | None] = mapped_column(
        ForeignKey("channel_connections.id", ondelete="SET NULL"), nullable=True
    )
    url: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
