"""Queue what an agent sends (a reply, a product card, a CSAT question) on the customer's
last channel, within the channel's reply window. Never commits."""

from __future__ import annotations

from typing import Any

from toonbank.api.errors import ApiError
from toonbank.channels.content import Content, Template
from toonbank.channels.render import degrade
from toonbank.context import Context
from toonbank.conversations.events import lock_contacts
from toonbank.conversations.service import queue_outbound, recipients
from toonbank.db.uow import UnitOfWork
from toonbank.inbox.window import window_state
from toonbank.models import Conversation, Message
from toonbank.pipeline import outbound_media


async def send_content(
    ctx: Context,
    uow: UnitOfWork,
    conversation: Conversation,
    content: Content,
    *,
    agent_id: str | None,
) -> tuple[list[Message], str]:
    """Queue ``content`` (degraded to what the channel can show); returns the messages and the
    channel type. 409 ``window_closed`` (with the window) when only a template may be sent."""
    await lock_contacts(uow, {conversation.contact_id})  # lock order: contact first
    await uow.session.refresh(conversation)
    if conversation.closed_at is not None:
        raise ApiError(409, "conversation_closed", "the conversation is closed")
    window: dict[str, Any] = await window_state(ctx, uow.session, conversation)
    if window.get("reason") == "no_channel":
        raise ApiError(409, "no_channel", "the customer has no active channel")
    if not window["open"] and not isinstance(content, Template):
        raise ApiError(409, "window_closed", window["hint"], extra={"window": window})
    connection = await ctx.connections.get(window["connection_id"])
    assert connection is not None
    adapter = ctx.channels.get(connection.type)
    caps = adapter.manifest.capabilities
    try:
        content = await outbound_media.owned(
            uow.session, conversation.workspace_id, content, ctx.settings.public_url, caps
        )
    except outbound_media.MediaRefused as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None
    key = (conversation.contact_id, connection.id)
    recipient = (await recipients(uow.session, {key})).get(key)
    messages = [
        await queue_outbound(
            uow,
            ctx.bus,
            conversation,
            part,
            sender="agent",
            connection_id=connection.id,
            channel_type=connection.type,
            recipient=recipient,
            agent_id=agent_id,
        )
        for part in degrade(content, caps)
    ]
    uow.on_commit(lambda: ctx.wake("dispatch"))
    return messages, connection.type
