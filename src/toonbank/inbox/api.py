"""The agent inbox API (``/api/v1/inbox``) and its WebSocket (``/inbox/ws``).

Authenticated by the agent session cookie of ``/auth/login``; every query is scoped to the
agent's workspace. Roles: ``owner``/``admin``/``supervisor`` see and act on every conversation
of the workspace (``conversations:all``) and may reassign (``conversations:reassign``); an
``agent`` sees conversations nobody serves plus their own, and acts only on their own (after
taking one). Anything outside what a role allows answers 404 (not visible) or 403 (visible, not
allowed). Cookie-authenticated writes also check ``Origin`` (cross-site request forgery).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.api.deps import SESSION_COOKIE, current_agent, get_ctx
from toonbank.api.errors import ApiError
from toonbank.auth.service import PERMISSIONS, agent_for_session, can
from toonbank.channels.content import Content, Text
from toonbank.context import Context
from toonbank.conversations.events import (
    lock_contacts,
    record_agent_event,
    workspace_topic,
)
from toonbank.conversations.states import ASSIGNED, STATUSES
from toonbank.inbox import routing, sla, teams
from toonbank.inbox.labels import labels_of
from toonbank.inbox.outbound import send_content
from toonbank.inbox.window import window_state
from toonbank.kit.clock import now
from toonbank.kit.frames import receive_frame
from toonbank.models import (
    Agent,
    AgentProfile,
    ChannelConnection,
    Contact,
    Conversation,
    Event,
    InboxConversation,
    InboxLabel,
    InboxNote,
    InboxTeamMember,
    Message,
)

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])
ws_router = APIRouter(tags=["inbox"])
log = structlog.get_logger(__name__)
REPLAY_PAGE = 500
MAX_FRAME = 4096
PRESENCE_STATES = ("viewing", "typing", "idle", "left")
GONE_ON = ("assignment", "conversation_status")
"""Events about a conversation the agent can no longer see become ``conversation_gone``
(id only), so lists drop it; nothing else about it is sent."""


# ------------------------------------------------------------------------------------------
# Access rules
# ------------------------------------------------------------------------------------------
def sees_all(agent: Agent) -> bool:
    return can(agent.role, "conversations:all")


def visible(agent: Agent, conversation: Conversation) -> bool:
    if conversation.workspace_id != agent.workspace_id:
        return False
    return sees_all(agent) or conversation.assigned_agent_id in (None, agent.id)


def may_act(agent: Agent, conversation: Conversation) -> bool:
    """Reply, note, hand back, release, close: the assignee, or someone who sees all."""
    return sees_all(agent) or (
        conversation.status == ASSIGNED and conversation.assigned_agent_id == agent.id
    )


def same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise ApiError(403, "forbidden", "cross-site request refused")


async def acting_agent(request: Request, agent: Agent = Depends(current_agent)) -> Agent:
    same_origin(request)
    return agent


async def _visible(session: AsyncSession, agent: Agent, conversation_id: str) -> Conversation:
    conversation = await session.get(Conversation, conversation_id[:32])
    if conversation is None or not visible(agent, conversation):
        raise ApiError(404, "not_found", "no such conversation in your inbox")
    return conversation


def _allowed(agent: Agent, conversation: Conversation) -> None:
    if not may_act(agent, conversation):
        raise ApiError(403, "forbidden", "take the conversation first (it is not assigned to you)")


def _routing_error(exc: routing.RoutingError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.detail)


# ------------------------------------------------------------------------------------------
# Views
# ------------------------------------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def conversation_view(
    conversation: Conversation, contact: Contact | None, channel: str | None
) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "status": conversation.status,
        "contact": {
            "id": conversation.contact_id,
            "display_name": contact.display_name if contact else None,
        },
        "channel": channel,
        "language": conversation.language,
        "priority": conversation.priority,
        "routing_skill": conversation.routing_skill,
        "assigned_agent_id": conversation.assigned_agent_id,
        "created_at": _iso(conversation.created_at),
        "queued_at": _iso(conversation.queued_at),
        "last_message_at": _iso(conversation.last_message_at),
        "closed_at": _iso(conversation.closed_at),
        "close_reason": conversation.close_reason,
    }


def history_view(message: Message, channel: str | None) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "sender": message.sender,
        "agent_id": message.agent_id,
        "content": message.content,
        "channel": channel,
        "status": message.status,
        "error_code": message.error_code,
        "created_at": _iso(message.created_at),
    }


# ------------------------------------------------------------------------------------------
# Me and agents
# ------------------------------------------------------------------------------------------
class ProfileIn(BaseModel):
    availability: str | None = Field(default=None, pattern="^(online|away|offline)$")


class AgentProfileIn(BaseModel):
    capacity: int | None = Field(default=None, ge=0, le=routing.MAX_CAPACITY)
    skills: list[str] | None = Field(default=None, max_length=50)
    languages: list[str] | None = Field(default=None, max_length=50)
    availability: str | None = Field(default=None, pattern="^(online|away|offline)$")


def _profile_view(agent: Agent, profile: AgentProfile, load: int) -> dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "display_name": agent.display_name,
        "role": agent.role,
        "availability": profile.availability,
        "capacity": profile.capacity,
        "skills": profile.skills,
        "languages": profile.languages,
        "load": load,
    }


async def _route_soon(ctx: Context, workspace_id: str) -> None:
    try:
        await routing.route_all(ctx, workspace_id)
    except Exception:  # routing is retried on the next trigger; never fail the request
        log.exception("inbox_routing_failed", workspace_id=workspace_id)


@router.get("/me")
async def me(agent: Agent = Depends(current_agent), ctx: Context = Depends(get_ctx)) -> Any:
    async with ctx.db.uow() as uow:
        profile = await routing.ensure_profile(uow.session, agent)
        load = (await routing.loads(uow.session, agent.workspace_id)).get(agent.id, 0)
        view = _profile_view(agent, profile, load)
    return {
        **view,
        "workspace_id": agent.workspace_id,
        "permissions": sorted(PERMISSIONS.get(agent.role, ())),
    }


@router.post("/me")
async def update_me(
    body: ProfileIn, agent: Agent = Depends(acting_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.uow() as uow:
        profile = await routing.update_profile(uow, ctx.bus, agent, availability=body.availability)
        view = _profile_view(agent, profile, 0)
    if body.availability == "online":
        await _route_soon(ctx, agent.workspace_id)
    return view


@router.get("/agents")
async def list_agents(
    agent: Agent = Depends(current_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Agent, AgentProfile)
            .outerjoin(AgentProfile, AgentProfile.agent_id == Agent.id)
            .where(Agent.workspace_id == agent.workspace_id, Agent.disabled_at.is_(None))
            .order_by(Agent.display_name)
        )
        load = await routing.loads(session, agent.workspace_id)
        return [
            _profile_view(
                a,
                p or AgentProfile(availability="offline", capacity=0, skills=[], languages=[]),
                load.get(a.id, 0),
            )
            for a, p in rows
        ]


@router.post("/agents/{agent_id}")
async def update_agent(
    agent_id: str,
    body: AgentProfileIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Capacity, skills and languages of a colleague (supervisors and up)."""
    if not can(agent.role, "conversations:reassign"):
        raise ApiError(403, "forbidden", "your role cannot change agents' routing")
    async with ctx.db.uow() as uow:
        target = await uow.session.get(Agent, agent_id[:32])
        if target is None or target.workspace_id != agent.workspace_id:
            raise ApiError(404, "not_found", "no such agent in this workspace")
        profile = await routing.update_profile(
            uow,
            ctx.bus,
            target,
            availability=body.availability,
            capacity=body.capacity,
            skills=body.skills,
            languages=body.languages,
        )
        view = _profile_view(target, profile, 0)
    await _route_soon(ctx, agent.workspace_id)
    return view


# ------------------------------------------------------------------------------------------
# Conversations
# ------------------------------------------------------------------------------------------
@router.get("/conversations")
async def list_conversations(
    view: str = Query(default="mine", pattern="^(mine|queue|team|all)$"),
    status: str | None = Query(default=None),
    channel: str | None = Query(default=None, max_length=32),
    language: str | None = Query(default=None, max_length=15),
    label: str | None = Query(default=None, max_length=64),
    team: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=100, ge=1, le=500),
    agent: Agent = Depends(current_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """``mine``: assigned to me; ``queue``: waiting for an agent; ``team``: my teams' open
    conversations nobody else serves (supervisors: everything of their teams); ``all``
    (supervisors+). Filters: status, channel, label, language, team. Each row carries its
    labels and its running SLA timer (``sla``: first/next response, ok/warning/breached)."""
    if status is not None and status not in STATUSES:
        raise ApiError(422, "invalid_request", f"status must be one of {', '.join(STATUSES)}")
    query = (
        select(Conversation, Contact, ChannelConnection.type)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(ChannelConnection, ChannelConnection.id == Conversation.last_connection_id)
        .where(Conversation.workspace_id == agent.workspace_id)
    )
    if view == "mine":
        query = query.where(Conversation.assigned_agent_id == agent.id)
        query = query.where(Conversation.status == (status or ASSIGNED))
    elif view == "queue":
        query = query.where(Conversation.status == "queued").order_by(*routing.queue_order())
    elif view == "team":
        mine = select(InboxTeamMember.team_id).where(InboxTeamMember.agent_id == agent.id)
        query = query.join(
            InboxConversation, InboxConversation.conversation_id == Conversation.id
        ).where(InboxConversation.team_id.in_(mine), Conversation.closed_at.is_(None))
        if not sees_all(agent):
            query = query.where(
                or_(
                    Conversation.assigned_agent_id.is_(None),
                    Conversation.assigned_agent_id == agent.id,
                )
            )
        if status:
            query = query.where(Conversation.status == status)
    else:
        if not sees_all(agent):
            raise ApiError(403, "forbidden", "your role sees your own and queued conversations")
        if status:
            query = query.where(Conversation.status == status)
    if channel:
        query = query.where(ChannelConnection.type == channel)
    if language:
        query = query.where(Conversation.language.like(f"{language.lower()[:15]}%"))
    if label:
        query = query.where(
            select(InboxLabel.id)
            .where(
                InboxLabel.conversation_id == Conversation.id,
                InboxLabel.label == label.strip().lower(),
            )
            .exists()
        )
    if team:
        query = query.where(
            select(InboxConversation.conversation_id)
            .where(
                InboxConversation.conversation_id == Conversation.id,
                InboxConversation.team_id == team,
            )
            .exists()
        )
    if view != "queue":
        query = query.order_by(Conversation.last_message_at.desc().nulls_last())
    async with ctx.db.session() as session:
        rows = list(await session.execute(query.limit(limit)))
        return await decorate(session, [(c, contact, kind) for c, contact, kind in rows])


async def decorate(
    session: AsyncSession, rows: list[tuple[Conversation, Contact | None, str | None]]
) -> list[dict[str, Any]]:
    """Conversation views with their labels, team and running SLA timer."""
    conversations = [c for c, _, _ in rows]
    ids = {c.id for c in conversations}
    timers = await sla.timers(session, conversations)
    labels = await labels_of(session, ids)
    states = await teams.states_of(session, ids)
    views = []
    for conversation, contact, kind in rows:
        view = conversation_view(conversation, contact, kind)
        timer = timers.get(conversation.id)
        state = states.get(conversation.id)
        view["sla"] = timer.to_json() if timer else None
        view["labels"] = labels.get(conversation.id, [])
        view["team_id"] = state.team_id if state else None
        views.append(view)
    return views


@router.get("/conversations/{conversation_id}")
async def conversation_detail(
    conversation_id: str,
    limit: int = Query(default=200, ge=1, le=1000),
    agent: Agent = Depends(current_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """The conversation, the customer's whole history across channels, notes, the window."""
    async with ctx.db.session() as session:
        conversation = await _visible(session, agent, conversation_id)
        contact = await session.get(Contact, conversation.contact_id)
        kind = None
        if conversation.last_connection_id:
            connection = await ctx.connections.get(conversation.last_connection_id)
            kind = connection.type if connection else None
        rows = await session.execute(
            select(Message, ChannelConnection.type)
            .outerjoin(ChannelConnection, ChannelConnection.id == Message.connection_id)
            .where(
                Message.contact_id == conversation.contact_id,
                Message.workspace_id == agent.workspace_id,
            )
            .order_by(Message.id.desc())
            .limit(limit)
        )
        history = [history_view(m, ch) for m, ch in rows][::-1]
        notes = await session.execute(
            select(InboxNote)
            .where(
                InboxNote.conversation_id == conversation.id,
                InboxNote.workspace_id == agent.workspace_id,
            )
            .order_by(InboxNote.id)
        )
        window = await window_state(ctx, session, conversation)
        return {
            "conversation": (await decorate(session, [(conversation, contact, kind)]))[0],
            "contact": {
                "id": conversation.contact_id,
                "display_name": contact.display_name if contact else None,
                "locale": contact.locale if contact else None,
            },
            "history": history,
            "notes": [
                {
                    "id": n.id,
                    "agent_id": n.agent_id,
                    "body": n.body,
                    "created_at": _iso(n.created_at),
                }
                for n in notes.scalars()
            ],
            "window": window,
            "can_act": may_act(agent, conversation),
            "handover": handover_view(conversation.bot_state),
        }


def handover_view(bot_state: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the assistant handed over with the conversation (reason, intent, what was asked,
    a summary, the cart), while it is with people; None when the assistant left nothing."""
    context = (bot_state or {}).get("handover")
    if not isinstance(context, dict) or not context:
        return None
    keys = ("reason", "intent", "language", "slots", "summary", "cart")
    return {k: context[k] for k in keys if k in context}


class ReplyIn(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    content: Content | None = None


@router.post("/conversations/{conversation_id}/messages", status_code=202)
async def reply(
    conversation_id: str,
    body: ReplyIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Queue the agent's reply on the customer's last channel (sender ``agent``).

    When the channel's free-reply window has closed, answers 409 ``window_closed`` with the
    template hint instead of queueing a message that could not be delivered.
    """
    content: Content
    if body.content is not None:
        content = body.content
    elif body.text is not None:
        content = Text(text=body.text)
    else:
        raise ApiError(422, "invalid_request", "send text or content")
    async with ctx.db.uow() as uow:
        conversation = await _visible(uow.session, agent, conversation_id)
        _allowed(agent, conversation)
        await lock_contacts(uow, {conversation.contact_id})  # lock order: contact first
        await uow.session.refresh(conversation)
        _allowed(agent, conversation)
        messages, kind = await send_content(ctx, uow, conversation, content, agent_id=agent.id)
        views = [history_view(m, kind) for m in messages]
    return views


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=8000)


@router.post("/conversations/{conversation_id}/notes", status_code=201)
async def add_note(
    conversation_id: str,
    body: NoteIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """A private note: stored and shown to agents, never sent to the customer."""
    async with ctx.db.uow() as uow:
        conversation = await _visible(uow.session, agent, conversation_id)
        _allowed(agent, conversation)
        await lock_contacts(uow, {conversation.contact_id})
        note = InboxNote(
            workspace_id=agent.workspace_id,
            conversation_id=conversation.id,
            agent_id=agent.id,
            body=body.body,
            created_at=now(),
        )
        uow.session.add(note)
        await uow.session.flush()
        view = {
            "id": note.id,
            "agent_id": agent.id,
            "body": note.body,
            "created_at": _iso(note.created_at),
        }
        await record_agent_event(uow, ctx.bus, conversation, "note", note=view)
    return view


async def _after(ctx: Context, conversation: Conversation, contact: Contact | None) -> Any:
    kind = None
    if conversation.last_connection_id:
        connection = await ctx.connections.get(conversation.last_connection_id)
        kind = connection.type if connection else None
    return conversation_view(conversation, contact, kind)


@router.post("/conversations/{conversation_id}/take")
async def take(
    conversation_id: str, agent: Agent = Depends(acting_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    try:
        async with ctx.db.uow() as uow:
            conversation = await _visible(uow.session, agent, conversation_id)
            conversation = await routing.claim(
                uow,
                ctx.bus,
                workspace_id=agent.workspace_id,
                conversation_id=conversation.id,
                agent=agent,
                actor=f"agent:{agent.id}",
            )
            contact = await uow.session.get(Contact, conversation.contact_id)
    except routing.RoutingError as exc:
        raise _routing_error(exc) from None
    return await _after(ctx, conversation, contact)


class AssignIn(BaseModel):
    agent_id: str = Field(min_length=1, max_length=32)


@router.post("/conversations/{conversation_id}/assign")
async def assign(
    conversation_id: str,
    body: AssignIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """A supervisor gives the conversation to an agent (capacity still applies)."""
    if not can(agent.role, "conversations:reassign"):
        raise ApiError(403, "forbidden", "your role cannot assign conversations")
    try:
        async with ctx.db.uow() as uow:
            conversation = await _visible(uow.session, agent, conversation_id)
            target = await uow.session.get(Agent, body.agent_id)
            if target is None or target.workspace_id != agent.workspace_id:
                raise ApiError(404, "not_found", "no such agent in this workspace")
            conversation = await routing.claim(
                uow,
                ctx.bus,
                workspace_id=agent.workspace_id,
                conversation_id=conversation.id,
                agent=target,
                actor=f"agent:{agent.id}",
                how="assign",
                allow_reassign=True,
            )
            contact = await uow.session.get(Contact, conversation.contact_id)
    except routing.RoutingError as exc:
        raise _routing_error(exc) from None
    return await _after(ctx, conversation, contact)


@router.post("/next")
async def take_next(agent: Agent = Depends(acting_agent), ctx: Context = Depends(get_ctx)) -> Any:
    """The next queued conversation this agent can serve (priority, waiting time, skills)."""
    for _ in range(20):
        async with ctx.db.uow() as uow:
            result = await routing.route_next(uow, ctx.bus, agent.workspace_id, only_agent=agent)
        if result.outcome != "busy":
            break
    if result.outcome != "assigned" or result.conversation_id is None:
        return {"conversation": None}
    async with ctx.db.session() as session:
        conversation = await _visible(session, agent, result.conversation_id)
        contact = await session.get(Contact, conversation.contact_id)
    return {"conversation": await _after(ctx, conversation, contact)}


class CloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=255)


async def _leave(
    ctx: Context, agent: Agent, conversation_id: str, action: str, reason: str | None = None
) -> Any:
    try:
        async with ctx.db.uow() as uow:
            conversation = await _visible(uow.session, agent, conversation_id)
            _allowed(agent, conversation)
            actor = f"agent:{agent.id}"
            if action == "hand_back":
                conversation = await routing.hand_back(uow, ctx.bus, conversation, actor=actor)
            elif action == "release":
                conversation = await routing.release(uow, ctx.bus, conversation, actor=actor)
            else:
                assert reason is not None
                conversation = await routing.close(
                    uow, ctx.bus, conversation, reason=reason, actor=actor
                )
            contact = await uow.session.get(Contact, conversation.contact_id)
    except routing.RoutingError as exc:
        raise _routing_error(exc) from None
    await _route_soon(ctx, agent.workspace_id)  # a slot (or a queued conversation) freed up
    return await _after(ctx, conversation, contact)


@router.post("/conversations/{conversation_id}/hand-back")
async def hand_back(
    conversation_id: str, agent: Agent = Depends(acting_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    return await _leave(ctx, agent, conversation_id, "hand_back")


@router.post("/conversations/{conversation_id}/release")
async def release(
    conversation_id: str, agent: Agent = Depends(acting_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    return await _leave(ctx, agent, conversation_id, "release")


@router.post("/conversations/{conversation_id}/close")
async def close(
    conversation_id: str,
    body: CloseIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    return await _leave(ctx, agent, conversation_id, "close", body.reason)


# ------------------------------------------------------------------------------------------
# WebSocket: live events and presence
# ------------------------------------------------------------------------------------------
@ws_router.websocket("/inbox/ws")
async def inbox_socket(websocket: WebSocket) -> None:
    ctx: Context = websocket.app.state.ctx
    origin = websocket.headers.get("origin")
    token = websocket.cookies.get(SESSION_COOKIE)
    agent = None
    if token and not (origin and urlsplit(origin).netloc != websocket.headers.get("host")):
        async with ctx.db.session() as session:
            agent = await agent_for_session(session, token)
    if agent is None:
        await websocket.close(code=4401, reason="log in first")
        return
    try:
        last_event_id = max(0, int(websocket.query_params.get("last_event_id", "0")))
    except ValueError:
        last_event_id = 0
    await websocket.accept()
    await AgentSocket(ctx, websocket, agent).run(last_event_id)


class AgentSocket:
    """One open inbox: replay the workspace's events, then live events and presence."""

    def __init__(self, ctx: Context, websocket: WebSocket, agent: Agent) -> None:
        self.ctx = ctx
        self.ws = websocket
        self.agent = agent
        self.topic = workspace_topic(agent.workspace_id)
        self.last_sent = 0
        self.viewing: str | None = None

    async def run(self, last_event_id: int) -> None:
        subscription = await self.ctx.bus.subscribe(self.topic)
        try:
            await self._replay(last_event_id)
            await self.ws.send_json({"type": "ready", "last_event_id": self.last_sent})
            reader = asyncio.create_task(self._read())
            writer = asyncio.create_task(self._write(subscription))
            done, pending = await asyncio.wait(
                {reader, writer}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for task in done:
                error = task.exception()
                if error is not None and not isinstance(error, WebSocketDisconnect):
                    log.warning("inbox_socket_failed", error=type(error).__name__)
        except WebSocketDisconnect:
            pass
        finally:
            await subscription.close()
            if self.viewing is not None:
                await self._announce(self.viewing, "left")

    async def _visible_ids(self, conversation_ids: set[str]) -> set[str]:
        if not conversation_ids:
            return set()
        async with self.ctx.db.session() as session:
            rows = await session.execute(
                select(Conversation).where(
                    Conversation.id.in_(conversation_ids),
                    Conversation.workspace_id == self.agent.workspace_id,
                )
            )
            return {c.id for c in rows.scalars() if visible(self.agent, c)}

    async def _replay(self, after: int) -> None:
        self.last_sent = max(self.last_sent, after)
        routed = False
        while True:
            async with self.ctx.db.session() as session:
                rows = await session.execute(
                    select(Event)
                    .where(Event.workspace_id == self.agent.workspace_id, Event.id > self.last_sent)
                    .order_by(Event.id)
                    .limit(REPLAY_PAGE)
                )
                events = list(rows.scalars())
            shown = await self._visible_ids(
                {e.conversation_id for e in events if e.conversation_id}
            )
            for event in events:
                self.last_sent = event.id
                if event.conversation_id is not None and event.conversation_id not in shown:
                    if event.type in GONE_ON:  # it left my view (taken by a colleague)
                        gone = {"id": event.id, "type": "conversation_gone"}
                        gone["conversation_id"] = event.conversation_id
                        await self.ws.send_json({"type": "event", "event": gone})
                    continue
                await self.ws.send_json(
                    {"type": "event", "event": {"id": event.id, "type": event.type, **event.data}}
                )
                if event.type == "conversation_status" and event.data.get("to") == "queued":
                    routed = True
            if len(events) < REPLAY_PAGE:
                break
        if routed and after:  # a handover while we were connected: offer it to the router
            await _route_soon(self.ctx, self.agent.workspace_id)

    async def _write(self, subscription: Any) -> None:
        while True:
            message = await subscription.get(timeout=30)
            subscription.overflowed = False
            if message is not None and "id" not in message:
                await self._ephemeral(message)
                continue
            if message is None or message["id"] > self.last_sent:
                await self._replay(self.last_sent)

    async def _ephemeral(self, message: dict[str, Any]) -> None:
        """Presence of colleagues and customers' typing: only for conversations I may see."""
        kind = message.get("type")
        if kind == "presence":
            if message.get("agent_id") == self.agent.id:
                return
            cid = message.get("conversation_id")
            if isinstance(cid, str) and cid in await self._visible_ids({cid}):
                await self.ws.send_json(message)
        elif kind == "typing" and message.get("sender") == "contact":
            async with self.ctx.db.session() as session:
                conversation = (
                    await session.execute(
                        select(Conversation).where(
                            Conversation.contact_id == str(message.get("contact_id")),
                            Conversation.closed_at.is_(None),
                        )
                    )
                ).scalar_one_or_none()
            if conversation is not None and visible(self.agent, conversation):
                await self.ws.send_json({**message, "conversation_id": conversation.id})

    async def _read(self) -> None:
        while True:
            frame = await receive_frame(self.ws, MAX_FRAME, self._error)
            kind = frame.get("type")
            if kind == "ping":
                await self.ws.send_json({"type": "pong"})
            elif kind == "presence":
                await self._presence(frame)
            else:
                await self._error("invalid_frame", f"unknown frame type {kind!r}")

    async def _presence(self, frame: dict[str, Any]) -> None:
        cid = frame.get("conversation_id")
        state = frame.get("state")
        if not isinstance(cid, str) or state not in PRESENCE_STATES:
            await self._error("invalid_frame", "presence needs conversation_id and a state")
            return
        if cid not in await self._visible_ids({cid[:32]}):
            await self._error("not_found", "no such conversation in your inbox")
            return
        if self.viewing is not None and self.viewing != cid:
            await self._announce(self.viewing, "left")
        self.viewing = None if state == "left" else cid
        await self._announce(cid, str(state))

    async def _announce(self, conversation_id: str, state: str) -> None:
        await self.ctx.bus.publish(
            self.topic,
            {
                "type": "presence",
                "agent_id": self.agent.id,
                "display_name": self.agent.display_name,
                "conversation_id": conversation_id,
                "state": state,
            },
        )

    async def _error(self, code: str, detail: str) -> None:
        await self.ws.send_json({"type": "error", "code": code, "detail": detail})
