"""Stage 3 — process: answer each conversation's messages strictly in order, exactly once.

A worker leases a batch of conversations (compare-and-set, one statement), computes the bot
turns *outside* any transaction (a responder may be slow: it must not hold the database's
write lock), then commits the results in one transaction that first checks the leases are
still ours and marks each message processed only if nobody did (guarded update). A crash at
any point leaves the messages unprocessed; the lease expires and another worker redoes them.
Within a conversation the messages are handled one at a time, in arrival order, each turn
seeing the dialogue state the previous one produced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import bindparam, select, update

from toonbank.channels.base import Connection
from toonbank.channels.content import Content, Option, Reply, Text, parse_content
from toonbank.channels.render import degrade, numbered_options, resolve_choice
from toonbank.conversations.events import EventSpec, lock_contacts, record_events
from toonbank.conversations.service import Outbound, change_status, queue_outbound_many, recipients
from toonbank.conversations.states import BOT, CLOSED, QUEUED
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import Conversation, Message, Workspace
from toonbank.models.base import table_of
from toonbank.models.conversations import is_unprocessed
from toonbank.ops import metrics
from toonbank.pipeline.dispatch import Dispatcher, Handoff
from toonbank.pipeline.leases import claim_conversations, release_conversations
from toonbank.responders.base import Turn, TurnResult

log = structlog.get_logger(__name__)
BATCH = 200
# Core tables: the hot statements below skip the ORM (identity map, autoflush, bulk planning).
_C = table_of(Conversation)
_M = table_of(Message)
_W = table_of(Workspace)


@dataclass(slots=True)
class _Conversation:
    """The columns of a conversation a turn needs."""

    id: str
    workspace_id: str
    contact_id: str
    status: str
    bot_state: dict[str, Any] | None
    language: str | None


@dataclass(slots=True)
class _Inbound:
    """The columns of an inbound message a turn needs."""

    id: int
    conversation_id: str
    connection_id: str | None
    content: dict[str, Any]
    created_at: datetime


_CONVERSATION_COLUMNS = [_C.c[name] for name in _Conversation.__dataclass_fields__]
_INBOUND_COLUMNS = [_M.c[name] for name in _Inbound.__dataclass_fields__]
_PENDING = select(_M.c.conversation_id).where(is_unprocessed(_M.c)).order_by(_M.c.id)
_CONVERSATIONS = select(*_CONVERSATION_COLUMNS).where(
    _C.c.id.in_(bindparam("c_ids", expanding=True))
)
_UNPROCESSED = (
    select(*_INBOUND_COLUMNS)
    .where(_M.c.conversation_id.in_(bindparam("c_ids", expanding=True)), is_unprocessed(_M.c))
    .order_by(_M.c.id)
)
_WORKSPACE_SETTINGS = select(_W.c.id, _W.c.settings).where(
    _W.c.id.in_(bindparam("w_ids", expanding=True))
)
_MARK_PROCESSED = (
    update(_M)
    .where(_M.c.id.in_(bindparam("m_ids", expanding=True)), _M.c.processed_at.is_(None))
    .values(processed_at=bindparam("m_moment"), status="processed")
    .returning(_M.c.id)
)
_LIVE = select(_C.c.id, _C.c.status, _C.c.last_message_at).where(
    _C.c.id.in_(bindparam("c_ids", expanding=True))
)
_PENDING_BATCH = _PENDING.limit(BATCH)
_BOT_UPDATE = (
    update(_C)
    .where(_C.c.id == bindparam("c_id"))
    .values(
        bot_state=bindparam("c_state"),
        language=bindparam("c_language"),
        last_message_at=bindparam("c_last"),
    )
)


@dataclass
class _Plan:
    """What a batch will commit for one conversation."""

    conversation: _Conversation
    message_ids: list[int] = field(default_factory=list)
    received: list[tuple[str, datetime]] = field(default_factory=list)
    replies: list[Outbound] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    handover: str | None = None
    close: str | None = None
    started_with: str = BOT
    events: list[EventSpec] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)


async def pending_conversations(ctx: Any, limit: int = BATCH) -> list[str]:
    """Conversations with unprocessed customer messages, oldest message first."""
    async with ctx.db.session() as session:
        rows = await session.execute(_PENDING.limit(limit) if limit != BATCH else _PENDING_BATCH)
        return list(dict.fromkeys(rows.scalars()))


async def process_pending(ctx: Any, owner: str, dispatcher: Dispatcher | None = None) -> int:
    """Process one batch; returns how many messages were handled.

    With ``dispatcher`` (the worker's own), the commit also claims the replies that may leave
    at once and hands them over in memory (see :meth:`Dispatcher.reserve`).
    """
    candidates = await pending_conversations(ctx)
    if not candidates:
        return 0
    async with ctx.db.uow() as uow:  # claim and read what the turns need: one transaction
        claimed = await claim_conversations(
            uow.session, candidates, owner, ctx.settings.lease_seconds
        )
        loaded = await _load(uow.session, claimed) if claimed else None
    if loaded is None:
        return 0
    try:
        plans = await _plan(ctx, claimed, loaded)
    except BaseException:
        async with ctx.db.uow() as uow:
            await release_conversations(uow.session, claimed, owner)
        raise
    return await _commit(ctx, owner, claimed, plans, dispatcher)


@dataclass(slots=True)
class _Loaded:
    """What the turns of a batch read: conversations, their new messages, settings, addresses."""

    conversations: dict[str, _Conversation]
    messages: dict[str, list[_Inbound]]
    settings: dict[str, dict[str, Any]]
    addresses: dict[tuple[str, str], str]


async def _load(session: Any, claimed: list[str]) -> _Loaded:
    conversations = {
        row[0]: _Conversation(*row)
        for row in await session.execute(_CONVERSATIONS, {"c_ids": claimed})
    }
    by_conversation: dict[str, list[_Inbound]] = defaultdict(list)
    for row in await session.execute(_UNPROCESSED, {"c_ids": claimed}):
        message = _Inbound(*row)
        by_conversation[message.conversation_id].append(message)
    workspace_ids = {c.workspace_id for c in conversations.values()}
    settings = {
        wid: value or {}
        for wid, value in await session.execute(_WORKSPACE_SETTINGS, {"w_ids": list(workspace_ids)})
    }
    pairs = {
        (c.contact_id, m.connection_id)
        for cid, c in conversations.items()
        for m in by_conversation[cid]
        if m.connection_id
    }
    return _Loaded(conversations, by_conversation, settings, await recipients(session, pairs))


async def _plan(ctx: Any, claimed: list[str], loaded: _Loaded) -> list[_Plan]:
    plans = []
    for cid in claimed:
        conversation = loaded.conversations.get(cid)
        if conversation is None or not loaded.messages[cid]:
            continue
        plan = _Plan(
            conversation=conversation,
            state=dict(conversation.bot_state or {}),
            language=conversation.language,
            started_with=conversation.status,
        )
        settings = loaded.settings.get(conversation.workspace_id, {})
        responder = ctx.responders.get(settings.get("responder"))
        for message in loaded.messages[cid]:
            plan.message_ids.append(message.id)
            plan.received.append((message.connection_id or "", message.created_at))
            if plan.started_with != BOT or plan.handover or plan.close:
                continue  # people answer this conversation now
            await _turn(ctx, plan, responder, message, loaded.addresses)
        plans.append(plan)
    return plans


def _understood(message: _Inbound, state: dict[str, Any]) -> Content:
    """The message content, with a typed "2" or an option title mapped back to that option."""
    try:
        content = parse_content(message.content)
    except ValidationError:
        return Text(text="[unsupported message]")
    offered = state.get("offered") or []
    if isinstance(content, Text) and offered:
        choice = resolve_choice(content.text, [Option(**o) for o in offered])
        if choice is not None:
            return Reply(payload=choice.payload, title=choice.title)
    if isinstance(content, Reply) and not content.title:
        # Some channels return only the payload (LINE postbacks): take the title we offered.
        title = next((o.get("title") for o in offered if o.get("payload") == content.payload), None)
        if title:
            return Reply(payload=content.payload, title=title)
    return content


async def _turn(
    ctx: Any,
    plan: _Plan,
    responder: Any,
    message: _Inbound,
    addresses: dict[tuple[str, str], str],
) -> None:
    connection: Connection | None = (
        await ctx.connections.get(message.connection_id) if message.connection_id else None
    )
    if connection is None:
        return
    capabilities = ctx.channels.get(connection.type).manifest.capabilities
    conversation = plan.conversation
    turn = Turn(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        channel_type=connection.type,
        capabilities=capabilities,
        content=_understood(message, plan.state),
        state=dict(plan.state),
        language=plan.language,
        first_message="turns" not in plan.state,
        services=ctx,
    )
    try:
        result: TurnResult = await responder.respond(turn)
    except Exception:
        log.exception("responder_failed", conversation_id=conversation.id, message_id=message.id)
        result = TurnResult(state=dict(plan.state), handover_reason="the assistant failed")
    offered: list[dict[str, Any]] = []
    recipient = addresses.get((conversation.contact_id, connection.id))
    for reply in result.replies:
        options = numbered_options(reply)
        if options:
            offered = [o.model_dump(mode="json") for o in options]
        for part in degrade(reply, capabilities, locale=result.language or plan.language or "en"):
            plan.replies.append(
                Outbound(
                    workspace_id=conversation.workspace_id,
                    conversation_id=conversation.id,
                    contact_id=conversation.contact_id,
                    connection_id=connection.id,
                    channel_type=connection.type,
                    content=part,
                    sender="bot",
                    recipient=recipient,
                )
            )
    plan.state = dict(result.state)
    if result.replies:
        plan.state["offered"] = offered  # a typed "2" refers to the latest options only
    plan.language = result.language or plan.language
    plan.handover = result.handover_reason
    plan.close = result.close_reason
    plan.events.extend(result.events)
    plan.after_commit.extend(result.after_commit)


class LeaseLost(Exception):
    """Messages of our batch were processed by another worker; the batch is rolled back."""


async def _commit(
    ctx: Any, owner: str, claimed: list[str], plans: list[_Plan], dispatcher: Dispatcher | None
) -> int:
    try:
        return await _commit_once(ctx, owner, claimed, plans, dispatcher)
    except LeaseLost as exc:
        log.warning("process_batch_superseded", messages=len(exc.args[0]))
        async with ctx.db.uow() as uow:
            await release_conversations(uow.session, claimed, owner)
        return 0


async def _commit_once(
    ctx: Any, owner: str, claimed: list[str], plans: list[_Plan], dispatcher: Dispatcher | None
) -> int:
    handoffs: list[Handoff] = []
    try:
        async with ctx.db.uow() as uow:
            handled, plans = await _commit_in(ctx, uow, owner, claimed, plans, dispatcher, handoffs)
    finally:
        for handoff in handoffs:
            handoff.cancel()  # no-op once adopted after the commit
    await _observe(ctx, plans)
    return handled


async def _commit_in(
    ctx: Any,
    uow: UnitOfWork,
    owner: str,
    claimed: list[str],
    plans: list[_Plan],
    dispatcher: Dispatcher | None,
    handoffs: list[Handoff],
) -> tuple[int, list[_Plan]]:
    handled = 0
    session = uow.session
    await lock_contacts(uow, {p.conversation.contact_id for p in plans})  # lock order
    ours = set(await release_conversations(session, claimed, owner))
    plans = [p for p in plans if p.conversation.id in ours]
    lost = set(claimed) - ours
    if lost:
        log.warning("conversation_leases_lost", count=len(lost))
    ids = [mid for p in plans for mid in p.message_ids]
    moment = now()
    marked = (
        set((await session.execute(_MARK_PROCESSED, {"m_ids": ids, "m_moment": moment})).scalars())
        if ids
        else set()
    )
    if marked != set(ids):
        # Someone processed messages under our lease (it expired meanwhile): undo this
        # whole transaction rather than commit turns built on a stale conversation.
        raise LeaseLost(sorted(set(ids) - marked))
    live = {
        cid: (status, last)
        for cid, status, last in await session.execute(
            _LIVE, {"c_ids": [p.conversation.id for p in plans]}
        )
    }
    replies: list[Outbound] = []
    updates: list[dict[str, Any]] = []
    changes: list[_Plan] = []
    events: list[EventSpec] = []
    for plan in plans:
        handled += len(plan.message_ids)
        status, last = live[plan.conversation.id]
        if status != BOT or plan.started_with != BOT:
            continue  # an agent took over meanwhile: the bot stays silent
        replies.extend(plan.replies)
        events.extend(plan.events)
        for callback in plan.after_commit:
            uow.on_commit(callback)
        updates.append(
            {
                "c_id": plan.conversation.id,
                "c_state": plan.state,
                "c_language": plan.language,
                "c_last": moment if plan.replies else last,
            }
        )
        if plan.handover or plan.close:
            changes.append(plan)
    if updates:
        await session.execute(_BOT_UPDATE, updates)
    if events:
        await record_events(uow, ctx.bus, events)
    for plan in changes:  # rare: load the conversation to move it along its states
        conversation = await session.get(Conversation, plan.conversation.id)
        assert conversation is not None
        if plan.handover:
            await change_status(
                uow, ctx.bus, conversation, QUEUED, reason=plan.handover, actor="bot"
            )
        elif plan.close:
            await change_status(uow, ctx.bus, conversation, CLOSED, reason=plan.close, actor="bot")
    handoff = await dispatcher.reserve(session, replies) if dispatcher and replies else None
    if handoff is not None:
        handoffs.append(handoff)
    ids = await queue_outbound_many(
        uow, ctx.bus, replies, claimed=handoff.columns if handoff else None
    )
    if handoff is not None and handoff.slots:
        await handoff.open(session, ids, replies)
        uow.on_commit(handoff.adopt)
    if len(replies) > (len(handoff.slots) if handoff else 0):
        uow.on_commit(lambda: ctx.wake("dispatch"))
    return handled, plans


async def _observe(ctx: Any, plans: list[_Plan]) -> None:
    """Processing latency: stored → answered (committed), per channel."""
    metrics.PROCESSING_BATCHES.inc()
    moment = now()
    for plan in plans:
        for connection_id, received in plan.received:
            connection = await ctx.connections.get(connection_id) if connection_id else None
            metrics.PROCESSING_LATENCY.labels(connection.type if connection else "none").observe(
                max(0.0, (moment - received).total_seconds())
            )
