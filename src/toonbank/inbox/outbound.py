"""Queue what an agent sends (a reply, a product card, a CSAT question) on the customer's
last channel, within the channel's reply window. Never commits."""

from __future__ import annotations

from typing import Any

from toonbank.api.errors import ApiError
from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content, Media, Template
from toonbank.channels.render import degrade
from toonbank.context import Context
from toonbank.conversations.events import lock_contacts
from toonbank.conversations.service import queue_outbound, recipients
from toonbank.db.uow import UnitOfWork
from toonbank.inbox.window import window_state
from toonbank.models import Conversation, MediaObject, Message
from toonbank.pipeline.media import LOCAL_PREFIX


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
    content = await checked_media(uow.session, conversation.workspace_id, content, ctx, caps)
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


def _local_id(url: str) -> str | None:
    if not url.startswith(LOCAL_PREFIX):
        return None
    return url.removeprefix(LOCAL_PREFIX)[:32]


async def checked_media(
    session: Any, workspace_id: str, content: Content, ctx: Context, caps: Capabilities
) -> Content:
    """Refuse media of another workspace (404); take the kind and type from the stored file;
    make a local link absolute where the channel can not show this kind of media natively (it
    becomes text with the link)."""
    if not isinstance(content, Media):
        return content
    media_id = _local_id(content.url)
    if media_id is None:
        if not content.url.startswith(("https://", "http://")):
            raise ApiError(422, "invalid_content", "media must be uploaded or an http(s) link")
        return content
    stored = await session.get(MediaObject, media_id)
    if stored is None or stored.workspace_id != workspace_id:
        raise ApiError(404, "not_found", "no such attachment in this workspace")
    top = stored.content_type.split("/", 1)[0]
    kind = top if top in ("image", "audio", "video") else "file"
    update: dict[str, Any] = {"kind": kind, "mime_type": stored.content_type}
    if kind not in caps.media:
        update["url"] = ctx.settings.public_url.rstrip("/") + content.url
    return content.model_copy(update=update)
