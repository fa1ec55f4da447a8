"""Stage 3 — process: answer each conversation's messages strictly in order, one at a time.

A worker leases a conversation (compare-and-set), then handles its oldest unprocessed inbound
message in one transaction: mark it processed (guarded, so it happens once), run the bot turn,
write replies to the outbox, save the dialogue state. Crash anywhere → the transaction rolls
back and the lease expires → another worker redoes exactly that message.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select, update

from toonbank.channels.content import (
    Content,
    Option,
    Reply,
    Text,
    parse_content,
)
from toonbank.channels.render import degrade, numbered_options, resolve_choice
from toonbank.conversations.service import change_status, queue_outbound, recipient_for
from toonbank.conversations.states import BOT, QUEUED
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import Conversation, Message, Workspace
from toonbank.ops import metrics
from toonbank.pipeline.leases import claim_conversation, release_conversation
from toonbank.responders.base import Turn

log = structlog.get_logger(__name__)


class LeaseLost(Exception):
    """Another worker took the conversation over (ours expired); stop without side effects."""


async def pending_conversations(ctx: Any, limit: int = 100) -> list[str]:
    async with ctx.db.session() as session:
        result = await session.execute(
            select(Message.conversation_id)
            .where(Message.direction == "in", Message.processed_at.is_(None))
            .group_by(Message.conversation_id)
            .order_by(Message.conversation_id)
            .limit(limit)
        )
        return list(result.scalars())


async def process_pending(ctx: Any, owner: str, concurrency: int = 8) -> int:
    """Process every conversation that has unanswered messages; returns messages handled."""
    conversation_ids = await pending_conversations(ctx)
    if not conversation_ids:
        return 0
    semaphore = asyncio.Semaphore(1 if ctx.db.is_sqlite else concurrency)

    async def one(conversation_id: str) -> int:
        async with semaphore:
            return await process_conversation(ctx, conversation_id, owner)

    return sum(await asyncio.gather(*(one(cid) for cid in conversation_ids)))


async def process_conversation(ctx: Any, conversation_id: str, owner: str) -> int:
    lease = ctx.settings.lease_seconds
    async with ctx.db.uow() as uow:
        if not await claim_conversation(uow.session, conversation_id, owner, lease):
            return 0
    handled = 0
    try:
        while True:
            async with ctx.db.uow() as uow:
                done = await _next_message(ctx, uow, conversation_id, owner)
            if done:
                break
            handled += 1
    except LeaseLost:
        log.warning("conversation_lease_lost", conversation_id=conversation_id)
        return handled
    async with ctx.db.uow() as uow:
        await release_conversation(uow.session, conversation_id, owner)
    return handled


async def _next_message(ctx: Any, uow: UnitOfWork, conversation_id: str, owner: str) -> bool:
    """Handle the oldest unprocessed message; True when there is none left."""
    session = uow.session
    message = (
        await session.execute(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == "in",
                Message.processed_at.is_(None),
            )
            .order_by(Message.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if message is None:
        return True
    renewed = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.lease_owner == owner)
        .values(lease_until=now() + timedelta(seconds=ctx.settings.lease_seconds))
    )
    if not renewed.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(conversation_id)
    marked = await session.execute(
        update(Message)
        .where(Message.id == message.id, Message.processed_at.is_(None))
        .values(processed_at=now(), status="processed")
    )
    if not marked.rowcount:  # type: ignore[attr-defined]
        raise LeaseLost(conversation_id)
    conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    if conversation.status == BOT:
        await _bot_turn(ctx, uow, conversation, message)
    channel = await _channel_type(ctx, message.connection_id)
    metrics.PROCESSING_LATENCY.labels(channel).observe(
        max(0.0, (now() - message.created_at).total_seconds())
    )
    return False


async def _channel_type(ctx: Any, connection_id: str | None) -> str:
    if connection_id is None:
        return "none"
    connection = await ctx.connections.get(connection_id)
    return connection.type if connection else "none"


def _understood_content(message: Message, state: dict[str, Any]) -> Content:
    """The message content, with a typed "2" or an option title mapped back to that option."""
    try:
        content = parse_content(message.content)
    except ValidationError:
        return Text(text="[unsupported message]")
    offered = state.get("offered") or []
    if isinstance(content, Text) and offered:
        options = [Option(**o) for o in offered]
        choice = resolve_choice(content.text, options)
        if choice is not None:
            return Reply(payload=choice.payload, title=choice.title)
    return content


async def _bot_turn(
    ctx: Any, uow: UnitOfWork, conversation: Conversation, message: Message
) -> None:
    connection = await ctx.connections.get(message.connection_id) if message.connection_id else None
    if connection is None:
        return
    adapter = ctx.channels.get(connection.type)
    workspace = await uow.session.get(Workspace, conversation.workspace_id)
    responder = ctx.responders.get(
        (workspace.settings or {}).get("responder") if workspace else None
    )
    state = dict(conversation.bot_state or {})
    turn = Turn(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        channel_type=connection.type,
        capabilities=adapter.manifest.capabilities,
        content=_understood_content(message, state),
        state=state,
        language=conversation.language,
        first_message="turns" not in state,
    )
    result = await responder.respond(turn)
    recipient = await recipient_for(uow.session, conversation.contact_id, connection.id)
    offered: list[dict[str, Any]] = []
    for reply in result.replies:
        options = numbered_options(reply)
        if options:
            offered = [o.model_dump(mode="json") for o in options]
        for part in degrade(reply, adapter.manifest.capabilities):
            await queue_outbound(
                uow,
                ctx.bus,
                conversation,
                part,
                sender="bot",
                connection_id=connection.id,
                channel_type=connection.type,
                recipient=recipient,
            )
    new_state = dict(result.state)
    if result.replies:
        new_state["offered"] = offered  # a typed "2" refers to the latest options only
    conversation.bot_state = new_state
    if result.language:
        conversation.language = result.language
    if result.handover_reason:
        await change_status(
            uow, ctx.bus, conversation, QUEUED, reason=result.handover_reason, actor="bot"
        )
    elif result.close_reason:
        await change_status(
            uow, ctx.bus, conversation, "closed", reason=result.close_reason, actor="bot"
        )
    uow.on_commit(lambda: ctx.wake("dispatch"))
