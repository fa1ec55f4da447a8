"""Conversation rules: open one per contact, change status, queue replies. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.channels.content import Content, dump_content
from toonbank.conversations.events import message_view, record_event
from toonbank.conversations.states import BOT, CLOSED, check_transition
from toonbank.db.portable import insert_ignore
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import (
    ContactIdentity,
    Conversation,
    ConversationTransition,
    Message,
    new_id,
)
from toonbank.realtime import Bus


async def open_conversation(
    uow: UnitOfWork, bus: Bus, *, workspace_id: str, contact_id: str
) -> Conversation:
    """The contact's open conversation, or a new one in status ``bot``.

    A partial unique index (one open conversation per contact) plus ``ON CONFLICT DO NOTHING``
    makes this safe when two messages from a new customer are handled at the same time.
    """
    session = uow.session
    current = await _open_for(session, contact_id)
    if current is not None:
        return current
    table = Conversation.__table__
    conversation_id = new_id()
    result = await session.execute(
        insert_ignore(
            session,
            table,
            ("contact_id",),
            index_where=table.c.closed_at.is_(None),
        )
        .values(
            id=conversation_id,
            workspace_id=workspace_id,
            contact_id=contact_id,
            status=BOT,
            bot_state={},
            created_at=now(),
        )
        .returning(table.c.id)
    )
    if result.scalar_one_or_none() is None:
        current = await _open_for(session, contact_id)
        assert current is not None
        return current
    session.add(
        ConversationTransition(
            workspace_id=workspace_id,
            conversation_id=conversation_id,
            from_status=None,
            to_status=BOT,
            reason="new conversation",
            actor="system",
        )
    )
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    await record_event(
        uow,
        bus,
        workspace_id=workspace_id,
        conversation_id=conversation_id,
        contact_id=contact_id,
        type="conversation_opened",
        data={"conversation_id": conversation_id},
        public=False,
    )
    return conversation


async def _open_for(session: AsyncSession, contact_id: str) -> Conversation | None:
    result = await session.execute(
        select(Conversation).where(
            Conversation.contact_id == contact_id, Conversation.closed_at.is_(None)
        )
    )
    return result.scalar_one_or_none()


async def change_status(
    uow: UnitOfWork,
    bus: Bus,
    conversation: Conversation,
    target: str,
    *,
    reason: str | None,
    actor: str,
    agent_id: str | None = None,
) -> None:
    """Move the conversation along its state machine and log the transition."""
    check_transition(conversation.status, target)
    previous = conversation.status
    conversation.status = target
    conversation.assigned_agent_id = agent_id if target == "assigned" else None
    if target == CLOSED:
        conversation.closed_at = now()
        conversation.close_reason = reason
    uow.session.add(
        ConversationTransition(
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.id,
            from_status=previous,
            to_status=target,
            reason=reason,
            actor=actor,
        )
    )
    await record_event(
        uow,
        bus,
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        type="conversation_status",
        data={"conversation_id": conversation.id, "from": previous, "to": target},
        public=False,
    )


async def recipient_for(session: AsyncSession, contact_id: str, connection_id: str) -> str | None:
    """The external id to address on this connection (the identity last seen there)."""
    result = await session.execute(
        select(ContactIdentity.external_id)
        .where(
            ContactIdentity.contact_id == contact_id,
            ContactIdentity.connection_id == connection_id,
        )
        .order_by(ContactIdentity.last_inbound_at.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def queue_outbound(
    uow: UnitOfWork,
    bus: Bus,
    conversation: Conversation,
    content: Content,
    *,
    sender: str,
    connection_id: str,
    channel_type: str,
    recipient: str | None,
    agent_id: str | None = None,
) -> Message:
    """Write a reply to the outbox (same transaction as its cause) and log it."""
    message = Message(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        connection_id=connection_id,
        direction="out",
        sender=sender,
        agent_id=agent_id,
        content=dump_content(content),
        recipient=recipient,
        status="queued",
        attempts=0,
        next_attempt_at=now(),
        created_at=now(),
    )
    uow.session.add(message)
    await uow.session.flush()
    conversation.last_message_at = message.created_at
    await record_event(
        uow,
        bus,
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        type="message",
        data={"message": message_view(message, channel_type)},
    )
    return message
