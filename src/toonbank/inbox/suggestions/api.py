"""REST for reply suggestions (``/api/v1/inbox/...``) and the review of what was learned.

Same rules as the inbox API: the agent session cookie, everything scoped to the agent's
workspace, 404 for what the agent cannot see, 403 for what their role does not allow.
Reading suggestions needs the conversation to be visible; sending or rejecting one needs the
right to act on it (like replying). Reviewing and removing learned answers needs
``learning:review`` (supervisors and up).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.api.deps import current_agent, get_ctx
from toonbank.api.errors import ApiError
from toonbank.auth.service import can
from toonbank.context import Context
from toonbank.inbox import api as inbox_api
from toonbank.inbox.suggestions import bank, engine, service
from toonbank.inbox.suggestions.facts import read_facts
from toonbank.models import (
    Agent,
    AnswerEntry,
    Conversation,
    Message,
    ReplySuggestion,
    SuggestionDecision,
)

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox suggestions"])
log = structlog.get_logger(__name__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def suggestion_view(row: ReplySuggestion) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "rank": row.rank,
        "text": row.text,
        "score": row.score,
        "sources": row.sources,
        "status": row.status,
    }


def entry_view(entry: AnswerEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "question": entry.question,
        "language": entry.language,
        "answer": entry.answer,
        "learned_from": entry.learned_from,
        "accepted": entry.accepted,
        "edited": entry.edited,
        "rejected": entry.rejected,
        "penalty": round(bank.decayed_penalty(entry), 4),
        "agent_id": entry.agent_id,
        "created_at": _iso(entry.created_at),
        "updated_at": _iso(entry.updated_at),
    }


def decision_view(decision: SuggestionDecision) -> dict[str, Any]:
    return {
        "id": decision.id,
        "conversation_id": decision.conversation_id,
        "suggestion_id": decision.suggestion_id,
        "sent_message_id": decision.sent_message_id,
        "agent_id": decision.agent_id,
        "action": decision.action,
        "original": decision.original,
        "final": decision.final,
        "edit_distance": decision.edit_distance,
        "similarity": decision.similarity,
        "created_at": _iso(decision.created_at),
    }


async def _conversation(session: AsyncSession, agent: Agent, conversation_id: str) -> Conversation:
    conversation = await session.get(Conversation, conversation_id[:32])
    if conversation is None or not inbox_api.visible(agent, conversation):
        raise ApiError(404, "not_found", "no such conversation in your inbox")
    return conversation


async def _question(session: AsyncSession, conversation: Conversation) -> service.Question | None:
    message = await service.latest_question(session, conversation)
    text = service.message_text(message) if message is not None else None
    if message is None or text is None:
        return None
    language = await service.language_of(conversation, text)
    vector = (await engine.embed([text]))[0]
    return service.Question(message, text, language, vector)


async def _learn_written(ctx: Context, workspace_id: str) -> None:
    """Agents' own replies since the last look become ``written`` decisions and bank entries."""
    async with ctx.db.session() as session:
        pending = await service.unlearned_replies(session, workspace_id)
    for conversation, asked, reply in pending:
        text = service.message_text(asked) or ""
        question = service.Question(
            asked,
            text,
            await service.language_of(conversation, text),
            (await engine.embed([text]))[0],
        )
        async with ctx.db.uow() as uow:
            if await service.record_written(uow.session, conversation, reply):
                await service.learn_reply(
                    uow.session,
                    conversation=conversation,
                    question=question,
                    final=service.message_text(reply) or "",
                    action="written",
                    agent_id=reply.agent_id,
                    origin=None,
                )


@router.get("/conversations/{conversation_id}/suggestions")
async def suggestions(
    conversation_id: str, agent: Agent = Depends(current_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    """Up to three suggested replies to the customer's latest message, with their sources.

    Computed on first request for each customer message (then stored), so the customer's
    message path never waits for a model.
    """
    async with ctx.db.session() as session:
        conversation = await _conversation(session, agent, conversation_id)
        message = await service.latest_question(session, conversation)
        rows = await service.stored(session, message) if message is not None else []
    try:
        await _learn_written(ctx, agent.workspace_id)
    except Exception:  # learning is retried on the next look; never fail the agent's view
        log.exception("suggestions_learning_failed", conversation_id=conversation.id)
    if message is not None and not rows:
        async with ctx.db.session() as session:
            question = await _question(session, conversation)
            retrieved = (
                await service.candidates(session, conversation, question, agent)
                if question is not None
                else []
            )
        if question is not None:
            # The optional generated draft: a model call, so outside any transaction.
            found = await engine.drafted(question.text, question.language, retrieved)
            async with ctx.db.uow() as uow:
                rows = await service.compute(uow.session, conversation, question, agent, found)
    return {
        "conversation_id": conversation.id,
        "message_id": message.id if message is not None else None,
        "question": service.message_text(message) if message is not None else None,
        "suggestions": [suggestion_view(r) for r in rows],
    }


class SendIn(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    """The final text; omitted: the suggestion as is."""


async def _suggestion(
    session: AsyncSession, agent: Agent, conversation_id: str, suggestion_id: str
) -> tuple[Conversation, ReplySuggestion]:
    conversation = await _conversation(session, agent, conversation_id)
    row = await session.get(ReplySuggestion, suggestion_id[:32])
    if (
        row is None
        or row.workspace_id != agent.workspace_id
        or row.conversation_id != conversation.id
    ):
        raise ApiError(404, "not_found", "no such suggestion")
    if not inbox_api.may_act(agent, conversation):
        raise ApiError(403, "forbidden", "take the conversation first (it is not assigned to you)")
    if row.status != "open":
        raise ApiError(409, "already_decided", f"this suggestion was already {row.status}")
    return conversation, row


async def _claim(session: AsyncSession, row: ReplySuggestion, status: str) -> None:
    """Move an open suggestion on, atomically: two clicks (or two agents) decide it once."""
    result = await session.execute(
        update(ReplySuggestion)
        .where(ReplySuggestion.id == row.id, ReplySuggestion.status == "open")
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise ApiError(409, "already_decided", "this suggestion was already decided")


@router.post("/conversations/{conversation_id}/suggestions/{suggestion_id}/send", status_code=202)
async def send_suggestion(
    conversation_id: str,
    suggestion_id: str,
    body: SendIn | None = None,
    agent: Agent = Depends(inbox_api.acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Send the suggestion as is or edited (through the inbox reply path), store the decision
    with its diff, and learn the final text."""
    async with ctx.db.session() as session:
        conversation, row = await _suggestion(session, agent, conversation_id, suggestion_id)
        question = await _question_for(session, conversation, row)
    final = ((body.text if body else None) or row.text).strip()
    async with ctx.db.uow() as uow:
        await _claim(uow.session, row, "sending")
    try:
        sent = await inbox_api.reply(
            conversation.id, inbox_api.ReplyIn(text=final), agent=agent, ctx=ctx
        )
    except BaseException:
        async with ctx.db.uow() as uow:  # not sent (window closed, …): decide again later
            await uow.session.execute(
                update(ReplySuggestion)
                .where(ReplySuggestion.id == row.id, ReplySuggestion.status == "sending")
                .values(status="open")
            )
        raise
    action = "accepted" if final == row.text else "edited"
    async with ctx.db.uow() as uow:
        row = await uow.session.get(ReplySuggestion, row.id) or row
        decision = await service.record_decision(
            uow.session,
            suggestion=row,
            agent=agent,
            action=action,
            final=final,
            sent_message_id=sent[0]["id"] if sent else None,
        )
        origin = await uow.session.get(AnswerEntry, row.answer_id) if row.answer_id else None
        if question is not None:
            facts = await read_facts(
                uow.session, conversation.workspace_id, conversation.contact_id, agent
            )
            await service.learn_reply(
                uow.session,
                conversation=conversation,
                question=question,
                final=final,
                action=action,
                agent_id=agent.id,
                origin=origin,
                facts=facts,
            )
        view = decision_view(decision)
    return {"decision": view, "messages": sent}


async def _question_for(
    session: AsyncSession, conversation: Conversation, row: ReplySuggestion
) -> service.Question | None:
    message = await session.get(Message, row.message_id)
    text = service.message_text(message) if message is not None else None
    if message is None or text is None:
        return None
    language = await service.language_of(conversation, text)
    return service.Question(message, text, language, (await engine.embed([text]))[0])


@router.post("/conversations/{conversation_id}/suggestions/{suggestion_id}/reject")
async def reject_suggestion(
    conversation_id: str,
    suggestion_id: str,
    agent: Agent = Depends(inbox_api.acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Not a good reply: stored as a decision; a learned answer behind it is demoted."""
    async with ctx.db.uow() as uow:
        _, row = await _suggestion(uow.session, agent, conversation_id, suggestion_id)
        await _claim(uow.session, row, "rejected")
        decision = await service.record_decision(
            uow.session,
            suggestion=row,
            agent=agent,
            action="rejected",
            final=None,
            sent_message_id=None,
        )
        if row.answer_id:
            entry = await uow.session.get(AnswerEntry, row.answer_id)
            if entry is not None and entry.workspace_id == agent.workspace_id:
                bank.demote(entry)
        return {"decision": decision_view(decision)}


# ------------------------------------------------------------------------------------------
# Review of what was learned (supervisors and up)
# ------------------------------------------------------------------------------------------
def _reviewer(agent: Agent) -> None:
    if not can(agent.role, "learning:review"):
        raise ApiError(403, "forbidden", "your role cannot review what the suggester learned")


@router.get("/learning/answers")
async def learned_answers(
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=100_000),
    agent: Agent = Depends(current_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    _reviewer(agent)
    async with ctx.db.session() as session:
        rows = await bank.list_entries(session, agent.workspace_id, limit=limit, offset=offset)
        total = await session.scalar(
            select(func.count())
            .select_from(AnswerEntry)
            .where(AnswerEntry.workspace_id == agent.workspace_id)
        )
        return {"total": total, "answers": [entry_view(e) for e in rows]}


@router.delete("/learning/answers/{answer_id}", status_code=204)
async def remove_answer(
    answer_id: str,
    agent: Agent = Depends(inbox_api.acting_agent),
    ctx: Context = Depends(get_ctx),
) -> None:
    _reviewer(agent)
    async with ctx.db.uow() as uow:
        entry = await uow.session.get(AnswerEntry, answer_id[:32])
        if entry is None or entry.workspace_id != agent.workspace_id:
            raise ApiError(404, "not_found", "no such learned answer")
        await uow.session.delete(entry)
    log.info("learned_answer_removed", answer_id=answer_id, agent_id=agent.id)


@router.get("/learning/decisions")
async def decisions(
    limit: int = Query(default=100, ge=1, le=500),
    agent: Agent = Depends(current_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Agents' latest decisions about suggestions, with the diffs."""
    _reviewer(agent)
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(SuggestionDecision)
            .where(SuggestionDecision.workspace_id == agent.workspace_id)
            .order_by(SuggestionDecision.id.desc())
            .limit(limit)
        )
        return [decision_view(d) for d in rows.scalars()]
