"""Conversation work in the inbox API: teams, a conversation's routing, labels, CSAT and the
customer's profile panel. Same rules as ``inbox.api``: workspace-scoped, role-checked, and
cookie writes check ``Origin``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select

from toonbank.api.deps import current_agent, get_ctx
from toonbank.api.errors import ApiError
from toonbank.auth.service import can
from toonbank.commerce import carts
from toonbank.commerce.money import Money
from toonbank.commerce.payments.service import payment_json, payments_of
from toonbank.context import Context
from toonbank.conversations.events import lock_contacts, record_agent_event
from toonbank.inbox import csat, teams
from toonbank.inbox.api import (
    _allowed,
    _iso,
    _route_soon,
    _visible,
    acting_agent,
)
from toonbank.inbox.labels import labels_of
from toonbank.inbox.outbound import send_content
from toonbank.models import (
    Agent,
    Cart,
    Contact,
    Conversation,
    InboxLabel,
    InboxTeam,
    Order,
)

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])
MAX_LABELS = 20
LABEL_PATTERN = r"^[\w][\w .:/-]{0,63}$"


def _supervisor(agent: Agent) -> None:
    if not can(agent.role, "conversations:reassign"):
        raise ApiError(403, "forbidden", "your role cannot change routing")


# ------------------------------------------------------------------------------------------
# Teams
# ------------------------------------------------------------------------------------------
class TeamIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    hours: dict[str, Any] = Field(default_factory=dict)
    first_response_seconds: int | None = Field(default=None, ge=10, le=7 * 86400)
    next_response_seconds: int | None = Field(default=None, ge=10, le=7 * 86400)
    members: list[str] | None = Field(default=None, max_length=teams.MAX_MEMBERS)


@router.get("/teams")
async def list_teams(agent: Agent = Depends(current_agent), ctx: Context = Depends(get_ctx)) -> Any:
    async with ctx.db.session() as session:
        found = await teams.teams_of(session, agent.workspace_id)
        members = await teams.members_of(session, list(found))
        return [
            teams.team_view(t, members.get(t.id, []))
            for t in sorted(found.values(), key=lambda t: t.name)
        ]


async def _save_team(ctx: Context, agent: Agent, team_id: str | None, body: TeamIn) -> Any:
    _supervisor(agent)
    try:
        async with ctx.db.uow() as uow:
            team = await teams.save_team(
                uow.session,
                agent.workspace_id,
                team_id=team_id,
                name=body.name.strip(),
                timezone=body.timezone,
                hours=body.hours,
                first_response_seconds=body.first_response_seconds,
                next_response_seconds=body.next_response_seconds,
                members=body.members,
            )
            members = await teams.members_of(uow.session, [team.id])
            view = teams.team_view(team, members.get(team.id, []))
    except teams.TeamError as exc:
        raise ApiError(404 if exc.code == "not_found" else 422, exc.code, exc.detail) from None
    await _route_soon(ctx, agent.workspace_id)
    return view


@router.post("/teams", status_code=201)
async def create_team(
    body: TeamIn, agent: Agent = Depends(acting_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    """A team with business hours (``{"weekly": {"mon": ["09:00-17:00"]}}``) and members."""
    return await _save_team(ctx, agent, None, body)


@router.post("/teams/{team_id}")
async def update_team(
    team_id: str,
    body: TeamIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    return await _save_team(ctx, agent, team_id, body)


class RoutingIn(BaseModel):
    team_id: str | None = Field(default=None, max_length=32)
    priority: int | None = Field(default=None, ge=-100, le=100)
    skill: str | None = Field(default=None, max_length=64)


@router.post("/conversations/{conversation_id}/routing")
async def set_routing(
    conversation_id: str,
    body: RoutingIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Send a conversation to a team, change its priority or required skill (supervisors+).
    Fields left out stay as they are; ``team_id: ""`` removes the team."""
    _supervisor(agent)
    fields = body.model_fields_set
    async with ctx.db.uow() as uow:
        conversation = await _visible(uow.session, agent, conversation_id)
        await lock_contacts(uow, {conversation.contact_id})
        await uow.session.refresh(conversation)
        state = await teams.inbox_state(uow.session, conversation.id, agent.workspace_id)
        if "team_id" in fields:
            if body.team_id:
                team = await uow.session.get(InboxTeam, body.team_id)
                if team is None or team.workspace_id != agent.workspace_id:
                    raise ApiError(404, "not_found", "no such team in this workspace")
                state.team_id = team.id
            else:
                state.team_id = None
        if body.priority is not None:
            conversation.priority = body.priority
        if "skill" in fields:
            conversation.routing_skill = (body.skill or "").strip().lower() or None
        view = {
            "conversation_id": conversation.id,
            "team_id": state.team_id,
            "priority": conversation.priority,
            "routing_skill": conversation.routing_skill,
        }
        await record_agent_event(uow, ctx.bus, conversation, "routing", **view)
    await _route_soon(ctx, agent.workspace_id)
    return view


# ------------------------------------------------------------------------------------------
# Labels
# ------------------------------------------------------------------------------------------
class LabelIn(BaseModel):
    label: str = Field(min_length=1, max_length=64, pattern=LABEL_PATTERN)


@router.get("/labels")
async def list_labels(
    agent: Agent = Depends(current_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    """The workspace's labels with how many conversations carry each."""
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(InboxLabel.label, func.count())
            .where(InboxLabel.workspace_id == agent.workspace_id)
            .group_by(InboxLabel.label)
            .order_by(InboxLabel.label)
        )
        return [{"label": label, "count": int(n)} for label, n in rows]


@router.post("/conversations/{conversation_id}/labels", status_code=201)
async def add_label(
    conversation_id: str,
    body: LabelIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    label = body.label.strip().lower()
    async with ctx.db.uow() as uow:
        conversation = await _visible(uow.session, agent, conversation_id)
        _allowed(agent, conversation)
        await lock_contacts(uow, {conversation.contact_id})
        current = (await labels_of(uow.session, {conversation.id})).get(conversation.id, [])
        if label not in current:
            if len(current) >= MAX_LABELS:
                raise ApiError(422, "invalid_request", f"at most {MAX_LABELS} labels")
            uow.session.add(
                InboxLabel(
                    workspace_id=agent.workspace_id, conversation_id=conversation.id, label=label
                )
            )
            current = sorted([*current, label])
            await record_agent_event(uow, ctx.bus, conversation, "labels", labels=current)
    return {"labels": current}


@router.delete("/conversations/{conversation_id}/labels/{label}")
async def remove_label(
    conversation_id: str,
    label: str,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.uow() as uow:
        conversation = await _visible(uow.session, agent, conversation_id)
        _allowed(agent, conversation)
        await lock_contacts(uow, {conversation.contact_id})
        await uow.session.execute(
            delete(InboxLabel).where(
                InboxLabel.conversation_id == conversation.id,
                InboxLabel.label == label.strip().lower()[:64],
            )
        )
        current = (await labels_of(uow.session, {conversation.id})).get(conversation.id, [])
        await record_agent_event(uow, ctx.bus, conversation, "labels", labels=current)
    return {"labels": current}


# ------------------------------------------------------------------------------------------
# CSAT
# ------------------------------------------------------------------------------------------
@router.post("/conversations/{conversation_id}/csat", status_code=202)
async def request_csat(
    conversation_id: str, agent: Agent = Depends(acting_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    """Ask the customer to rate the conversation (1-5), in their language. The answer (a tap
    on a rating, or a plain digit) is collected by the worker and shown in the profile."""
    async with ctx.db.uow() as uow:
        conversation = await _visible(uow.session, agent, conversation_id)
        _allowed(agent, conversation)
        contact = await uow.session.get(Contact, conversation.contact_id)
        language = csat.language_of(conversation, contact)
        await send_content(
            ctx, uow, conversation, csat.question(language, conversation.id), agent_id=agent.id
        )
        state = await teams.inbox_state(uow.session, conversation.id, agent.workspace_id)
        view = csat.mark_requested(state, language)
    return view


# ------------------------------------------------------------------------------------------
# Profile panel
# ------------------------------------------------------------------------------------------
def _money(minor: int, currency: str) -> dict[str, Any]:
    return Money(minor, currency).to_json()


async def _orders(session: Any, workspace_id: str, contact_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Order)
        .where(Order.workspace_id == workspace_id, Order.contact_id == contact_id)
        .order_by(Order.created_at.desc())
        .limit(20)
    )
    out = []
    for order in rows.scalars():
        out.append(
            {
                "id": order.id,
                "number": order.number,
                "status": order.status,
                "total": _money(order.total_minor, order.currency),
                "refunded": _money(order.refunded_minor, order.currency),
                "created_at": _iso(order.created_at),
                "payments": [payment_json(p) for p in await payments_of(session, order)],
            }
        )
    return out


def _journey(attributes: dict[str, Any], orders: list[dict[str, Any]], cart: Any) -> str:
    stage = attributes.get("journey_stage")
    if isinstance(stage, str) and stage:
        return stage[:32]
    if any(o["status"] not in ("pending", "cancelled") for o in orders):
        return "customer"
    if orders or (cart and cart.get("lines")):
        return "considering"
    return "browsing"


@router.get("/conversations/{conversation_id}/profile")
async def profile(
    conversation_id: str, agent: Agent = Depends(current_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    """Who the customer is: preferences, consent, journey stage, orders with payments, the
    open cart, past conversations, and the CSAT of this conversation."""
    async with ctx.db.session() as session:
        conversation = await _visible(session, agent, conversation_id)
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None
        attributes = dict(contact.attributes or {})
        orders = await _orders(session, agent.workspace_id, contact.id)
        cart_row = await session.scalar(
            select(Cart)
            .where(
                Cart.workspace_id == agent.workspace_id,
                Cart.contact_id == contact.id,
                Cart.status == carts.OPEN,
            )
            .order_by(Cart.created_at.desc())
            .limit(1)
        )
        cart = await carts.cart_json(session, cart_row) if cart_row is not None else None
        past = await session.execute(
            select(Conversation)
            .where(
                Conversation.workspace_id == agent.workspace_id,
                Conversation.contact_id == contact.id,
                Conversation.id != conversation.id,
            )
            .order_by(Conversation.created_at.desc())
            .limit(20)
        )
        state = (await teams.states_of(session, {conversation.id})).get(conversation.id)
        return {
            "contact": {
                "id": contact.id,
                "display_name": contact.display_name,
                "email": contact.email,
                "phone": contact.phone,
                "locale": contact.locale,
            },
            "preferences": attributes.get("preferences") or {},
            "consent": attributes.get("consent") or {},
            "attributes": {
                k: v
                for k, v in attributes.items()
                if k not in ("preferences", "consent", "journey_stage")
            },
            "journey_stage": _journey(attributes, orders, cart),
            "orders": orders,
            "cart": cart,
            "past_conversations": [
                {
                    "id": c.id,
                    "status": c.status,
                    "created_at": _iso(c.created_at),
                    "closed_at": _iso(c.closed_at),
                    "close_reason": c.close_reason,
                }
                for c in past.scalars()
            ],
            "csat": csat.view(state),
            "team_id": state.team_id if state else None,
        }
