"""Customer satisfaction: the rating question in the customer's language, and collecting the
answer (the worker's maintenance loop calls :func:`collect`).

The question is a quick-reply message whose options carry ``csat:<conversation>:<1-5>``; a
customer on a channel without buttons can answer with a plain digit 1-5. The first answer after
the question counts; later ones are ignored.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import select

from toonbank.channels.content import Option, QuickReplies
from toonbank.conversations.events import lock_contacts, record_event
from toonbank.kit.clock import now
from toonbank.models import Contact, Conversation, InboxConversation, Message

QUESTIONS: Final = {
    "en": "How would you rate our help today? (1 = poor, 5 = excellent)",
    "nl": "Hoe beoordeel je onze hulp vandaag? (1 = slecht, 5 = uitstekend)",
    "de": "Wie bewerten Sie unsere Hilfe heute? (1 = schlecht, 5 = ausgezeichnet)",
    "fr": "Comment évaluez-vous notre aide aujourd'hui ? (1 = mauvaise, 5 = excellente)",
    "es": "¿Cómo valoras nuestra ayuda de hoy? (1 = mala, 5 = excelente)",
    "it": "Come valuti il nostro aiuto di oggi? (1 = scarso, 5 = eccellente)",
    "pt": "Como avalia a nossa ajuda de hoje? (1 = má, 5 = excelente)",
    "pl": "Jak oceniasz naszą dzisiejszą pomoc? (1 = słabo, 5 = doskonale)",
    "ro": "Cum evaluați ajutorul nostru de astăzi? (1 = slab, 5 = excelent)",
}
ANSWER_WINDOW: Final = timedelta(days=7)
_DIGIT = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")
BATCH: Final = 200


def language_of(conversation: Conversation, contact: Contact | None) -> str:
    for tag in (conversation.language, contact.locale if contact else None):
        base = (tag or "").lower().split("-")[0].split("_")[0]
        if base in QUESTIONS:
            return base
    return "en"


def question(language: str, conversation_id: str) -> QuickReplies:
    return QuickReplies(
        text=QUESTIONS.get(language, QUESTIONS["en"]),
        options=[
            Option(title=f"{n} {'★' * n}", payload=f"csat:{conversation_id}:{n}")
            for n in range(1, 6)
        ],
    )


def mark_requested(state: InboxConversation, language: str) -> dict[str, Any]:
    state.csat_requested_at = now()
    state.csat_language = language
    state.csat_score = None
    state.csat_answered_at = None
    shown = view(state)
    assert shown is not None
    return shown


def view(state: InboxConversation | None) -> dict[str, Any] | None:
    if state is None or state.csat_requested_at is None:
        return None
    return {
        "requested_at": state.csat_requested_at.isoformat(),
        "language": state.csat_language,
        "score": state.csat_score,
        "answered_at": state.csat_answered_at.isoformat() if state.csat_answered_at else None,
    }


def score_of(content: dict[str, Any], conversation_id: str) -> int | None:
    """The rating a customer's message gives, if it is one."""
    payload = content.get("payload")
    if isinstance(payload, str) and payload.startswith("csat:"):
        parts = payload.split(":")
        if len(parts) == 3 and parts[1] == conversation_id and parts[2] in "12345":
            return int(parts[2])
        return None
    text = content.get("text")
    if content.get("type") == "text" and isinstance(text, str):
        match = _DIGIT.match(text)
        if match:
            return int(match[1])
    return None


async def collect(ctx: Any) -> int:
    """Store the answers that arrived since the questions were asked; returns how many."""
    horizon = now() - ANSWER_WINDOW
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(InboxConversation, Conversation.contact_id)
            .join(Conversation, Conversation.id == InboxConversation.conversation_id)
            .where(
                InboxConversation.csat_requested_at.is_not(None),
                InboxConversation.csat_requested_at > horizon,
                InboxConversation.csat_score.is_(None),
            )
            .limit(BATCH)
        )
        pending = [(state.conversation_id, contact_id) for state, contact_id in rows]
    stored = 0
    for conversation_id, contact_id in pending:
        stored += await _collect_one(ctx, conversation_id, contact_id)
    return stored


async def _collect_one(ctx: Any, conversation_id: str, contact_id: str) -> int:
    async with ctx.db.uow() as uow:
        await lock_contacts(uow, {contact_id})
        state = await uow.session.get(InboxConversation, conversation_id, populate_existing=True)
        if state is None or state.csat_requested_at is None or state.csat_score is not None:
            return 0
        answers = await uow.session.execute(
            select(Message)
            .where(
                Message.contact_id == contact_id,
                Message.workspace_id == state.workspace_id,
                Message.direction == "in",
                Message.created_at >= state.csat_requested_at,
            )
            .order_by(Message.id)
            .limit(20)
        )
        for message in answers.scalars():
            score = score_of(message.content or {}, conversation_id)
            if score is None:
                continue
            state.csat_score = score
            state.csat_answered_at = message.created_at
            await record_event(
                uow,
                ctx.bus,
                workspace_id=state.workspace_id,
                conversation_id=conversation_id,
                contact_id=contact_id,
                type="csat",
                data={"conversation_id": conversation_id, "csat": view(state)},
                public=False,
            )
            return 1
    return 0
