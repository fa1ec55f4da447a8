"""Conversation rules: open one per contact, change status, queue replies. Never commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.channels.content import Content, dump_content
from toonbank.conversations.events import EventSpec, message_view_of, record_event, record_events
from toonbank.conversations.states import BOT, CLOSED, QUEUED, check_transition
from toonbank.db.portable import insert_ids, insert_ignore
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import (
    ContactIdentity,
    Conversation,
    ConversationTransition,
    Message,
    new_id,
)
from toonbank.models.base import table_of
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
    if target == QUEUED:  # the inbox's router (a worker stage) assigns it after commit
        uow.on_commit(lambda: bus.publish("pipeline", {"stage": "route"}))
    check_transition(conversation.status, target)
    previous = conversation.status
    conversation.status = target
    conversation.assigned_agent_id = agent_id if target == "assigned" else None
    if target == QUEUED and previous != QUEUED:
        conversation.queued_at = now()  # the inbox queue serves the longest waiting first
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
        data={
            "conversation_id": conversation.id,
            "from": previous,
            "to": target,
            "agent_id": conversation.assigned_agent_id,
        },
        public=False,
    )


@dataclass(frozen=True, slots=True)
class Outbound:
    """One reply to put in the outbox."""

    workspace_id: str
    conversation_id: str
    contact_id: str
    connection_id: str
    channel_type: str
    content: Content
    sender: str
    recipient: str | None
    agent_id: str | None = None


async def queue_outbound_many(
    uow: UnitOfWork,
    bus: Bus,
    items: list[Outbound],
    *,
    claimed: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[int]:
    """Write replies to the outbox (same transaction as their cause) and log them, in order.

    ``claimed`` (index in ``items`` → column values) writes those replies already claimed by a
    dispatcher (``status='sending'`` with its lease), see ``Dispatcher.reserve``; their events
    still show them ``queued``, as a claim never produces an event.
    """
    if not items:
        return []
    moment = now()
    values = [
        {
            "workspace_id": item.workspace_id,
            "conversation_id": item.conversation_id,
            "contact_id": item.contact_id,
            "connection_id": item.connection_id,
            "direction": "out",
            "sender": item.sender,
            "agent_id": item.agent_id,
            "content": dump_content(item.content),
            "recipient": item.recipient,
            "status": "queued",
            "attempts": 0,
            "lease_owner": None,
            "lease_until": None,
            "next_attempt_at": moment,
            "created_at": moment,
        }
        for item in items
    ]
    table = table_of(Message)
    rows = values
    if claimed:
        rows = [
            {**value, **claimed[i]} if i in claimed else value for i, value in enumerate(values)
        ]
    ids = await insert_ids(uow.session, table, rows)  # in the order of ``values``
    specs = [
        EventSpec(
            workspace_id=item.workspace_id,
            type="message",
            data={"message": message_view_of(mid, value, item.channel_type)},
            conversation_id=item.conversation_id,
            contact_id=item.contact_id,
        )
        for item, value, mid in zip(items, values, ids, strict=True)
    ]
    await record_events(uow, bus, specs)
    return ids


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
    """Queue one reply on ``conversation`` (see :func:`queue_outbound_many`)."""
    [message_id] = await queue_outbound_many(
        uow,
        bus,
        [
            Outbound(
                workspace_id=conversation.workspace_id,
                conversation_id=conversation.id,
                contact_id=conversation.contact_id,
                connection_id=connection_id,
                channel_type=channel_type,
                content=content,
                sender=sender,
                recipient=recipient,
                agent_id=agent_id,
            )
        ],
    )
    conversation.last_message_at = now()
    message = await uow.session.get(Message, message_id)
    assert message is not None
    return message


async def recipients(
    session: AsyncSession, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(contact id, connection id) → the external id last seen on that connection."""
    if not pairs:
        return {}
    rows = await session.execute(
        select(
            ContactIdentity.contact_id,
            ContactIdentity.connection_id,
            ContactIdentity.external_id,
            ContactIdentity.last_inbound_at,
        ).where(ContactIdentity.contact_id.in_({contact for contact, _ in pairs}))
    )
    best: dict[tuple[str, str], tuple[Any, str]] = {}
    for contact_id, connection_id, external_id, seen in rows:
        key = (contact_id, connection_id)
        if key not in pairs:
            continue
        previous = best.get(key)
        if previous is None or (seen is not None and (previous[0] is None or seen >= previous[0])):
            best[key] = (seen, external_id)  # the identity heard from most recently wins
    return {key: external for key, (_seen, external) in best.items()}
