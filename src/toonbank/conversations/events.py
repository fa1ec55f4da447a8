"""The event log: append in the transaction, publish after commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from toonbank.db.portable import insert_ids
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import Contact, Conversation, Event, Message
from toonbank.models.base import table_of
from toonbank.realtime import Bus


def contact_topic(contact_id: str) -> str:
    return f"contact:{contact_id}"


def workspace_topic(workspace_id: str) -> str:
    return f"workspace:{workspace_id}"


def event_view(event: Event) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, **event.data}


@dataclass(frozen=True, slots=True)
class EventSpec:
    workspace_id: str
    type: str
    data: dict[str, Any]
    conversation_id: str | None = None
    contact_id: str | None = None
    public: bool = True


async def lock_contacts(uow: UnitOfWork, contact_ids: set[str]) -> None:
    """Lock contact rows (PostgreSQL) so a contact's events commit in id order.

    Event ids come from a sequence; without the lock two concurrent transactions could commit a
    contact's events out of id order and a client resuming from ``last_event_id`` would skip
    the late one. SQLite transactions are serialized, so nothing is needed there. Rows are
    locked in id order to avoid deadlocks between transactions locking several contacts.

    Lock order, everywhere: contacts, then conversations, then messages. A transaction that
    will update conversation or message rows *and* record events calls this first (the
    process and dispatch stages do), or it could hold a conversation that another
    transaction needs while waiting for a contact that one holds. ``FOR NO KEY UPDATE`` does
    not conflict with the key-share locks that inserting a row referencing the contact takes.
    """
    todo = sorted(contact_ids - uow.locked)
    if not todo:
        return
    session = uow.session
    if session.get_bind().dialect.name == "postgresql":
        contacts = table_of(Contact)
        await session.execute(
            select(contacts.c.id)
            .where(contacts.c.id.in_(todo))
            .order_by(contacts.c.id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE
        )
    uow.locked.update(todo)


async def record_events(uow: UnitOfWork, bus: Bus, specs: list[EventSpec]) -> list[int]:
    """Append events in one statement; publish them, in order, once the transaction commits."""
    if not specs:
        return []
    await lock_contacts(uow, {s.contact_id for s in specs if s.contact_id})
    created = now()
    table = table_of(Event)
    ids = await insert_ids(
        uow.session,
        table,
        [
            {
                "workspace_id": s.workspace_id,
                "conversation_id": s.conversation_id,
                "contact_id": s.contact_id,
                "type": s.type,
                "data": s.data,
                "public": s.public,
                "created_at": created,
            }
            for s in specs
        ],
    )
    # Ids in the order of ``specs`` (ascending too: a sequence / rowid).
    views = [
        (spec, {"id": event_id, "type": spec.type, **spec.data})
        for spec, event_id in zip(specs, ids, strict=True)
    ]

    async def publish() -> None:
        messages: list[tuple[str, dict[str, Any]]] = []
        for spec, view in views:
            messages.append((workspace_topic(spec.workspace_id), {**view, "public": spec.public}))
            if spec.public and spec.contact_id:
                messages.append((contact_topic(spec.contact_id), view))
        await bus.publish_many(messages)

    uow.on_commit(publish)
    return ids


async def record_event(
    uow: UnitOfWork,
    bus: Bus,
    *,
    workspace_id: str,
    type: str,
    data: dict[str, Any],
    conversation_id: str | None = None,
    contact_id: str | None = None,
    public: bool = True,
) -> int:
    """Append one event (see :func:`record_events`); returns its id."""
    spec = EventSpec(workspace_id, type, data, conversation_id, contact_id, public)
    [event_id] = await record_events(uow, bus, [spec])
    return event_id


async def record_agent_event(
    uow: UnitOfWork, bus: Bus, conversation: Conversation, type: str, **data: Any
) -> int:
    """A private (agents-only) event about ``conversation``; its data carries the
    conversation's id plus ``data``. Published after commit; returns its id."""
    return await record_event(
        uow,
        bus,
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        type=type,
        data={"conversation_id": conversation.id, **data},
        public=False,
    )


def message_view(message: Message, channel: str | None = None) -> dict[str, Any]:
    """The public shape of a message in events and the API."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "sender": message.sender,
        "content": message.content,
        "client_id": message.provider_message_id if channel == "webchat" else None,
        "channel": channel,
        "status": message.status,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }


def message_view_of(
    message_id: int, values: Mapping[str, Any], channel: str | None
) -> dict[str, Any]:
    """:func:`message_view` of a row being inserted (its column values and new id)."""
    created = values.get("created_at")
    return {
        "id": message_id,
        "conversation_id": values["conversation_id"],
        "direction": values["direction"],
        "sender": values["sender"],
        "content": values["content"],
        "client_id": values.get("provider_message_id") if channel == "webchat" else None,
        "channel": channel,
        "status": values["status"],
        "created_at": created.isoformat() if created else None,
    }
