"""The event log: append in the transaction, publish after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from toonbank.db.uow import UnitOfWork
from toonbank.models import Contact, Event, Message
from toonbank.realtime import Bus


def contact_topic(contact_id: str) -> str:
    return f"contact:{contact_id}"


def workspace_topic(workspace_id: str) -> str:
    return f"workspace:{workspace_id}"


def event_view(event: Event) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, **event.data}


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
) -> Event:
    """Append an event; once the transaction commits, publish it to its realtime topics.

    Before the first event of a contact in a transaction, the contact row is locked (PostgreSQL;
    SQLite transactions are serialized anyway). Event ids come from a sequence, so without the
    lock two concurrent transactions could commit a contact's events out of id order and a
    client resuming from ``last_event_id`` would skip the late one.
    """
    if contact_id and contact_id not in uow.locked:
        session = uow.session
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(
                select(Contact.id).where(Contact.id == contact_id).with_for_update()
            )
        uow.locked.add(contact_id)
    event = Event(
        workspace_id=workspace_id,
        conversation_id=conversation_id,
        contact_id=contact_id,
        type=type,
        data=data,
        public=public,
    )
    uow.session.add(event)
    await uow.session.flush()
    view = event_view(event)

    async def publish() -> None:
        await bus.publish(workspace_topic(workspace_id), {**view, "public": public})
        if public and contact_id:
            await bus.publish(contact_topic(contact_id), view)

    uow.on_commit(publish)
    return event


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
