"""Suggestions for a conversation, the agents' decisions, and learning from them.

Never commits: callers pass a session inside their unit of work. Model calls (embeddings,
language identification) happen before the transaction opens, off the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.nlu.language import LanguageIdentifier
from toonbank.assistant.nlu.text import normalise
from toonbank.db.portable import insert_ignore
from toonbank.inbox.suggestions import bank, engine
from toonbank.inbox.suggestions.facts import Facts, read_facts
from toonbank.inbox.suggestions.templating import templatize
from toonbank.kit.clock import now
from toonbank.models import (
    Agent,
    AnswerEntry,
    Conversation,
    Message,
    ReplySuggestion,
    SuggestionDecision,
)
from toonbank.models.base import new_id

NEAR_EXACT: Final = 0.9
"""Normalised similarity at which a reply counts as the suggestion (benchmark acceptance)."""
WRITTEN_GRACE: Final = timedelta(seconds=10)
"""Agents' own replies are learned once this old (a suggestion send records its own decision)."""
WRITTEN_HORIZON: Final = timedelta(days=7)
WRITTEN_BATCH: Final = 20
MAX_QUESTION: Final = 2000

_languages: LanguageIdentifier | None = None
_languages_lock = threading.Lock()


def message_text(message: Message) -> str | None:
    content = message.content or {}
    text = content.get("text") if content.get("type", "text") == "text" else content.get("caption")
    return text.strip()[:MAX_QUESTION] if isinstance(text, str) and text.strip() else None


def similarity(a: str, b: str) -> float:
    """Normalised similarity of two replies in [0, 1] (1 - normalised edit distance)."""
    return float(Levenshtein.normalized_similarity(normalise(a), normalise(b)))


def diff(original: str, final: str) -> dict[str, Any]:
    return {
        "edit_distance": int(Levenshtein.distance(original, final)),
        "similarity": round(similarity(original, final), 4),
    }


def _identify(text: str) -> str:
    global _languages
    with _languages_lock:
        if _languages is None:
            _languages = LanguageIdentifier()
    return _languages.identify(text).language


async def language_of(conversation: Conversation, text: str) -> str:
    """The conversation's language when known, else identified from the question."""
    if conversation.language:
        return conversation.language[:2].lower()
    return await asyncio.to_thread(_identify, text)


async def latest_question(session: AsyncSession, conversation: Conversation) -> Message | None:
    """The newest inbound customer message with text in the conversation."""
    rows = await session.execute(
        select(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.workspace_id == conversation.workspace_id,
            Message.direction == "in",
        )
        .order_by(Message.id.desc())
        .limit(5)
    )
    return next((m for m in rows.scalars() if message_text(m)), None)


async def stored(session: AsyncSession, message: Message) -> list[ReplySuggestion]:
    rows = await session.execute(
        select(ReplySuggestion)
        .where(
            ReplySuggestion.message_id == message.id,
            ReplySuggestion.workspace_id == message.workspace_id,
        )
        .order_by(ReplySuggestion.rank)
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class Question:
    message: Message
    text: str
    language: str
    vector: Any


async def candidates(
    session: AsyncSession, conversation: Conversation, question: Question, agent: Agent | None
) -> list[engine.Candidate]:
    """The retrieved candidate replies to ``question`` (this customer's facts filled in)."""
    facts = await read_facts(session, conversation.workspace_id, conversation.contact_id, agent)
    return await engine.retrieve(
        session,
        conversation.workspace_id,
        question=question.text,
        vector=question.vector,
        language=question.language,
        facts=facts,
    )


async def compute(
    session: AsyncSession,
    conversation: Conversation,
    question: Question,
    agent: Agent | None,
    found: list[engine.Candidate] | None = None,
) -> list[ReplySuggestion]:
    """Store the suggestions for ``question`` once (concurrent computations agree on one set).

    ``found``: the ranked suggestions, computed before the transaction (retrieval and the
    optional generated draft, see the API); computed here, without a draft, when omitted."""
    if found is None:
        found = engine.rank(await candidates(session, conversation, question, agent))
    at = now()
    table = ReplySuggestion.__table__
    for rank, candidate in enumerate(found):
        row = ReplySuggestion(
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.id,
            message_id=question.message.id,
            rank=rank,
            text=candidate.text,
            score=round(candidate.score, 4),
            sources=candidate.sources,
            answer_id=candidate.answer_id,
            status="open",
            created_at=at,
        )
        values = {c.key: getattr(row, c.key) for c in table.columns}
        values["id"] = values["id"] or new_id()
        await session.execute(insert_ignore(session, table, ["message_id", "rank"]).values(values))
    return await stored(session, question.message)


async def learn_reply(
    session: AsyncSession,
    *,
    conversation: Conversation,
    question: Question,
    final: str,
    action: str,
    agent_id: str | None,
    origin: AnswerEntry | None,
    facts: Facts | None = None,
) -> AnswerEntry:
    """The final reply to ``question`` enters the bank (this customer's facts as variables)."""
    if facts is None:
        facts = await read_facts(session, conversation.workspace_id, conversation.contact_id, None)
    return await bank.learn(
        session,
        workspace_id=conversation.workspace_id,
        question=question.text,
        vector=question.vector,
        encoder=engine.encoder().name,
        language=question.language,
        answer=templatize(final, facts.values),
        action=action,
        agent_id=agent_id,
        origin=origin,
    )


async def record_decision(
    session: AsyncSession,
    *,
    suggestion: ReplySuggestion,
    agent: Agent,
    action: str,
    final: str | None,
    sent_message_id: int | None,
) -> SuggestionDecision:
    """Store what the agent did (a ``written`` row for the same message becomes this one)."""
    decision = None
    if sent_message_id is not None:
        decision = await session.scalar(
            select(SuggestionDecision).where(
                SuggestionDecision.sent_message_id == sent_message_id,
                SuggestionDecision.workspace_id == suggestion.workspace_id,
            )
        )
    if decision is None:
        decision = SuggestionDecision(
            workspace_id=suggestion.workspace_id,
            conversation_id=suggestion.conversation_id,
            sent_message_id=sent_message_id,
        )
        session.add(decision)
    changes = diff(suggestion.text, final) if final is not None else {}
    decision.suggestion_id = suggestion.id
    decision.agent_id = agent.id
    decision.action = action
    decision.original = suggestion.text
    decision.final = final
    decision.edit_distance = changes.get("edit_distance")
    decision.similarity = changes.get("similarity")
    decision.created_at = now()
    suggestion.status = action
    await session.flush()
    return decision


async def unlearned_replies(
    session: AsyncSession, workspace_id: str
) -> list[tuple[Conversation, Message, Message]]:
    """Agents' recent own replies in the workspace, with the question each answered, that
    the learner has not seen yet (any agent's look at suggestions picks them up)."""
    at = now()
    replies = list(
        (
            await session.execute(
                select(Message)
                .outerjoin(SuggestionDecision, SuggestionDecision.sent_message_id == Message.id)
                .where(
                    Message.workspace_id == workspace_id,
                    Message.direction == "out",
                    Message.sender == "agent",
                    Message.created_at <= at - WRITTEN_GRACE,
                    Message.created_at >= at - WRITTEN_HORIZON,
                    SuggestionDecision.id.is_(None),
                )
                .order_by(Message.id.desc())
                .limit(WRITTEN_BATCH)
            )
        ).scalars()
    )
    found = []
    for reply in reversed(replies):
        conversation = await session.get(Conversation, reply.conversation_id)
        if conversation is None or not message_text(reply):
            continue
        question = await session.scalar(
            select(Message)
            .where(
                Message.conversation_id == conversation.id,
                Message.workspace_id == workspace_id,
                Message.direction == "in",
                Message.id < reply.id,
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        if question is not None and message_text(question):
            found.append((conversation, question, reply))
    return found


async def record_written(session: AsyncSession, conversation: Conversation, reply: Message) -> bool:
    """A ``written`` decision for ``reply``; False when another process recorded it first."""
    text = message_text(reply)
    result = await session.execute(
        insert_ignore(session, SuggestionDecision.__table__, ["sent_message_id"]).values(
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.id,
            sent_message_id=reply.id,
            agent_id=reply.agent_id,
            action="written",
            final=text,
            created_at=now(),
        )
    )
    return bool(getattr(result, "rowcount", 0))
