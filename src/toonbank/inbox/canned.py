"""Canned responses: reusable replies with variables, per workspace (``/api/v1/inbox/canned``).

Every agent of the workspace lists and uses them (rendered for a conversation's customer);
creating, changing and deleting them needs ``canned:manage`` (supervisors and up). Bodies use
the strict ``{{ variable }}`` substitution of :mod:`toonbank.inbox.suggestions.templating`:
unknown variables are refused on save, and reported (never executed) on render.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.api.deps import current_agent, get_ctx
from toonbank.api.errors import ApiError
from toonbank.auth.service import can
from toonbank.context import Context
from toonbank.inbox import api as inbox_api
from toonbank.inbox.suggestions import bank, engine
from toonbank.inbox.suggestions.facts import read_facts
from toonbank.inbox.suggestions.templating import VARIABLES, render, unknown_variables
from toonbank.kit.clock import now
from toonbank.models import Agent, CannedResponse, Conversation

router = APIRouter(prefix="/api/v1/inbox/canned", tags=["inbox canned responses"])
MAX_LIST = 500


class CannedIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4096)
    shortcut: str | None = Field(default=None, pattern=r"^/[a-z0-9][a-z0-9_-]{0,62}$")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")


class RenderIn(BaseModel):
    conversation_id: str = Field(min_length=1, max_length=32)


def canned_view(row: CannedResponse) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "shortcut": row.shortcut,
        "language": row.language,
        "body": row.body,
        "updated_at": row.updated_at.isoformat(),
    }


def _manager(agent: Agent) -> None:
    if not can(agent.role, "canned:manage"):
        raise ApiError(403, "forbidden", "your role cannot change canned responses")


def _checked(body: CannedIn) -> None:
    unknown = unknown_variables(body.body)
    if unknown:
        raise ApiError(
            422,
            "unknown_variables",
            f"unknown variables: {', '.join(unknown)}; known: {', '.join(VARIABLES)}",
            extra={"unknown": unknown},
        )


async def _embedding(body: CannedIn) -> tuple[str, bytes]:
    """The canned response as the suggester sees it: title and body in one vector."""
    vector = (await engine.embed([f"{body.title}. {body.body}"]))[0]
    return engine.encoder().name, bank.to_blob(vector)


@router.get("")
async def list_canned(
    q: str | None = Query(default=None, max_length=100),
    language: str | None = Query(default=None, pattern=r"^[a-z]{2}$"),
    agent: Agent = Depends(current_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """The workspace's canned responses; ``q`` matches title or shortcut (``/ret``)."""
    query = select(CannedResponse).where(CannedResponse.workspace_id == agent.workspace_id)
    if language:
        query = query.where(
            or_(CannedResponse.language == language, CannedResponse.language.is_(None))
        )
    if q:
        pattern = "%" + q.lower().replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                CannedResponse.title.ilike(pattern, escape="\\"),
                CannedResponse.shortcut.ilike(pattern, escape="\\"),
            )
        )
    async with ctx.db.session() as session:
        rows = await session.execute(query.order_by(CannedResponse.title).limit(MAX_LIST))
        return [canned_view(r) for r in rows.scalars()]


def _conflict() -> ApiError:
    return ApiError(409, "shortcut_taken", "that shortcut already exists for this language")


@router.post("", status_code=201)
async def create_canned(
    body: CannedIn, agent: Agent = Depends(inbox_api.acting_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    _manager(agent)
    _checked(body)
    encoder, embedding = await _embedding(body)
    try:
        async with ctx.db.uow() as uow:
            row = CannedResponse(
                workspace_id=agent.workspace_id,
                title=body.title,
                body=body.body,
                shortcut=body.shortcut,
                language=body.language,
                encoder=encoder,
                embedding=embedding,
                created_by=agent.id,
                created_at=now(),
                updated_at=now(),
            )
            uow.session.add(row)
            await uow.session.flush()
            view = canned_view(row)
    except IntegrityError:
        raise _conflict() from None
    return view


async def _owned(
    ctx: Context, session: AsyncSession, agent: Agent, canned_id: str
) -> CannedResponse:
    row = await session.get(CannedResponse, canned_id[:32])
    if row is None or row.workspace_id != agent.workspace_id:
        raise ApiError(404, "not_found", "no such canned response")
    return row


@router.put("/{canned_id}")
async def update_canned(
    canned_id: str,
    body: CannedIn,
    agent: Agent = Depends(inbox_api.acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    _manager(agent)
    _checked(body)
    encoder, embedding = await _embedding(body)
    try:
        async with ctx.db.uow() as uow:
            row = await _owned(ctx, uow.session, agent, canned_id)
            row.title, row.body = body.title, body.body
            row.shortcut, row.language = body.shortcut, body.language
            row.encoder, row.embedding = encoder, embedding
            row.updated_at = now()
            await uow.session.flush()
            view = canned_view(row)
    except IntegrityError:
        raise _conflict() from None
    return view


@router.delete("/{canned_id}", status_code=204)
async def delete_canned(
    canned_id: str, agent: Agent = Depends(inbox_api.acting_agent), ctx: Context = Depends(get_ctx)
) -> None:
    _manager(agent)
    async with ctx.db.uow() as uow:
        await uow.session.delete(await _owned(ctx, uow.session, agent, canned_id))


@router.post("/{canned_id}/render")
async def render_canned(
    canned_id: str,
    body: RenderIn,
    agent: Agent = Depends(inbox_api.acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """The canned response filled in for a conversation's customer (and this agent)."""
    async with ctx.db.session() as session:
        row = await _owned(ctx, session, agent, canned_id)
        conversation = await session.get(Conversation, body.conversation_id)
        if conversation is None or not inbox_api.visible(agent, conversation):
            raise ApiError(404, "not_found", "no such conversation in your inbox")
        facts = await read_facts(session, agent.workspace_id, conversation.contact_id, agent)
    rendered = render(row.body, facts.values)
    return {"text": rendered.text, "unknown": rendered.unknown, "missing": rendered.missing}
