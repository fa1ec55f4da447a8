"""Assistant metrics: automation, handover and fallback rates, per intent and per language.

**Events the dialogue records** (rows of the ``events`` table, ``public=False``; record them
with the helpers below, in the transaction that commits the turn):

* ``assistant.turn`` — one per customer message the assistant answered:
  ``{"intent", "language", "confidence", "fallback", "source"?}``. ``fallback`` is true when
  the assistant could not serve the message (out of scope, not understood); an ``other``
  intent counts as a fallback when the flag is absent.
* ``assistant.resolved`` — the customer confirmed the problem is solved (a "yes, thanks"
  button, a positive answer to "did this help?"): ``{"confirmed": true, "via": "customer"}``.
* ``assistant.csat`` — a satisfaction score 1 to 5: ``{"score": 4}`` (4 and 5 count as
  confirmation, 1 and 2 as dissatisfaction).

**Handovers** are read from ``conversation_transitions``: a conversation moved from ``bot`` to
``queued`` or ``assigned`` (by the bot, a business rule or an agent taking over); the reason is
the transition's ``reason`` (the responder's ``handover_reason``).

**Definitions** over a window ``[since, until)``: the conversations are those with at least
one assistant turn in the window. *Automated*: never handed over in the window.
*Confirmed automated*: automated and confirmed (``assistant.resolved`` or CSAT ≥ 4).
*Fallback rate*: fallback turns / turns. Per intent, a handover is attributed to the intent of
the conversation's last turn before it; per language, a conversation counts under the language
of its last turn.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.taxonomy import BUILTIN_INTENTS
from toonbank.conversations.events import EventSpec, record_events
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import ConversationTransition, Event
from toonbank.ops import metrics as prom
from toonbank.realtime import Bus

TURN = "assistant.turn"
RESOLVED = "assistant.resolved"
CSAT = "assistant.csat"
EVENT_TYPES = (TURN, RESOLVED, CSAT)
HANDOVER_TARGETS = ("queued", "assigned")
LABELLED_LANGUAGES = frozenset({"en", "nl", "de", "fr", "es", "it", "pt", "pl", "ro"})
MAX_REASON = 80
_IN_CHUNK = 500


def _intent_label(intent: str) -> str:
    """Bounded Prometheus label: business intents are one series."""
    return intent if intent in BUILTIN_INTENTS else "business"


def _language_label(language: str | None) -> str:
    return language if language in LABELLED_LANGUAGES else "other"


def assistant_turn_event(
    *,
    workspace_id: str,
    conversation_id: str,
    contact_id: str | None,
    intent: str,
    language: str | None,
    confidence: float,
    fallback: bool,
    source: str | None = None,
) -> EventSpec:
    """The ``assistant.turn`` event of one answered message (for batching with other events)."""
    data: dict[str, Any] = {
        "conversation_id": conversation_id,
        "intent": intent,
        "language": language,
        "confidence": round(float(confidence), 4),
        "fallback": bool(fallback),
    }
    if source:
        data["source"] = source
    return EventSpec(workspace_id, TURN, data, conversation_id, contact_id, public=False)


async def record_assistant_turn(
    uow: UnitOfWork,
    bus: Bus,
    *,
    workspace_id: str,
    conversation_id: str,
    contact_id: str | None,
    intent: str,
    language: str | None,
    confidence: float,
    fallback: bool,
    source: str | None = None,
) -> int:
    """Record that the assistant answered one message (call it in the turn's transaction).

    Returns the event id. Prometheus counters move only once the transaction commits."""
    spec = assistant_turn_event(
        workspace_id=workspace_id,
        conversation_id=conversation_id,
        contact_id=contact_id,
        intent=intent,
        language=language,
        confidence=confidence,
        fallback=fallback,
        source=source,
    )
    [event_id] = await record_events(uow, bus, [spec])
    uow.on_commit(count_turn(intent, language, fallback))
    return event_id


def count_turn(intent: str, language: str | None, fallback: bool) -> Callable[[], None]:
    """The Prometheus update for one answered message, to run once its turn is committed."""
    labels = (_intent_label(intent), _language_label(language), "true" if fallback else "false")
    return lambda: prom.ASSISTANT_TURNS.labels(*labels).inc()


async def record_resolution(
    uow: UnitOfWork,
    bus: Bus,
    *,
    workspace_id: str,
    conversation_id: str,
    contact_id: str | None,
    confirmed: bool = True,
    via: str = "customer",
) -> int:
    """Record that the customer said the assistant solved it (``confirmed``) or not."""
    data = {"conversation_id": conversation_id, "confirmed": bool(confirmed), "via": via[:32]}
    spec = EventSpec(workspace_id, RESOLVED, data, conversation_id, contact_id, public=False)
    [event_id] = await record_events(uow, bus, [spec])
    uow.on_commit(lambda: prom.ASSISTANT_RESOLUTIONS.labels("true" if confirmed else "false").inc())
    return event_id


async def record_csat(
    uow: UnitOfWork,
    bus: Bus,
    *,
    workspace_id: str,
    conversation_id: str,
    contact_id: str | None,
    score: int,
) -> int:
    """Record a customer satisfaction score from 1 (bad) to 5 (good)."""
    if not 1 <= score <= 5:
        raise ValueError("a CSAT score is 1 to 5")
    data = {"conversation_id": conversation_id, "score": int(score)}
    spec = EventSpec(workspace_id, CSAT, data, conversation_id, contact_id, public=False)
    [event_id] = await record_events(uow, bus, [spec])
    uow.on_commit(lambda: prom.ASSISTANT_CSAT.labels(str(score)).inc())
    return event_id


@dataclass
class Breakdown:
    """Counts for one intent or one language."""

    turns: int = 0
    fallbacks: int = 0
    conversations: int = 0
    handovers: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "turns": self.turns,
            "fallbacks": self.fallbacks,
            "fallback_rate": _rate(self.fallbacks, self.turns),
            "conversations": self.conversations,
            "handovers": self.handovers,
            "handover_rate": _rate(self.handovers, self.conversations),
            "automation_rate": _rate(self.conversations - self.handovers, self.conversations),
        }


@dataclass
class AssistantMetrics:
    since: datetime
    until: datetime
    conversations: int = 0
    automated: int = 0
    confirmed_automated: int = 0
    handovers: int = 0
    turns: int = 0
    fallbacks: int = 0
    csat_count: int = 0
    csat_sum: int = 0
    handover_reasons: Counter[str] = field(default_factory=Counter)
    intents: dict[str, Breakdown] = field(default_factory=lambda: defaultdict(Breakdown))
    languages: dict[str, Breakdown] = field(default_factory=lambda: defaultdict(Breakdown))

    @property
    def automation_rate(self) -> float | None:
        return _rate(self.automated, self.conversations)

    @property
    def handover_rate(self) -> float | None:
        return _rate(self.handovers, self.conversations)

    @property
    def fallback_rate(self) -> float | None:
        return _rate(self.fallbacks, self.turns)

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "conversations": self.conversations,
            "automated": self.automated,
            "automation_rate": self.automation_rate,
            "confirmed_automated": self.confirmed_automated,
            "confirmed_automation_rate": _rate(self.confirmed_automated, self.conversations),
            "handovers": self.handovers,
            "handover_rate": self.handover_rate,
            "handover_reasons": dict(self.handover_reasons.most_common()),
            "turns": self.turns,
            "fallbacks": self.fallbacks,
            "fallback_rate": self.fallback_rate,
            "csat": {
                "count": self.csat_count,
                "average": round(self.csat_sum / self.csat_count, 3) if self.csat_count else None,
            },
            "per_intent": {k: v.to_json() for k, v in sorted(self.intents.items())},
            "per_language": {k: v.to_json() for k, v in sorted(self.languages.items())},
        }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class _Conversation:
    turns: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, intent, lang)
    confirmed: bool = False
    handover_at: datetime | None = None
    reason: str = ""


async def assistant_metrics(
    session: AsyncSession,
    workspace_id: str | None,
    since: datetime,
    until: datetime | None = None,
) -> AssistantMetrics:
    """The metrics of one workspace (``None``: all, for operators) over ``[since, until)``."""
    until = until or now()
    result = AssistantMetrics(since=since, until=until)
    where = [
        Event.type.like("assistant.%"),  # matches the partial index's predicate
        Event.type.in_(EVENT_TYPES),
        Event.created_at >= since,
        Event.created_at < until,
        Event.conversation_id.is_not(None),
    ]
    if workspace_id is not None:
        where.append(Event.workspace_id == workspace_id)
    rows = await session.execute(
        select(Event.conversation_id, Event.type, Event.data, Event.created_at)
        .where(*where)
        .order_by(Event.id)
    )
    conversations: dict[str, _Conversation] = defaultdict(_Conversation)
    for conversation_id, kind, data, at in rows:
        conversation = conversations[conversation_id]
        if kind == TURN:
            intent = str(data.get("intent") or "other")
            language = str(data.get("language") or "unknown")
            fallback = bool(data.get("fallback", intent == "other"))
            conversation.turns.append((at, intent, language))
            result.turns += 1
            result.fallbacks += fallback
            result.intents[intent].turns += 1
            result.intents[intent].fallbacks += fallback
            result.languages[language].turns += 1
            result.languages[language].fallbacks += fallback
        elif kind == RESOLVED:
            conversation.confirmed |= bool(data.get("confirmed"))
        else:
            score = int(data.get("score") or 0)
            result.csat_count += 1
            result.csat_sum += score
            conversation.confirmed |= score >= 4
    served = {cid: c for cid, c in conversations.items() if c.turns}
    await _handovers(session, served, since, until)
    for conversation in served.values():
        _count(result, conversation)
    return result


async def _handovers(
    session: AsyncSession, served: dict[str, _Conversation], since: datetime, until: datetime
) -> None:
    ids = list(served)
    transitions = ConversationTransition
    for start in range(0, len(ids), _IN_CHUNK):
        rows = await session.execute(
            select(transitions.conversation_id, transitions.reason, transitions.created_at)
            .where(
                transitions.conversation_id.in_(ids[start : start + _IN_CHUNK]),
                transitions.from_status == "bot",
                transitions.to_status.in_(HANDOVER_TARGETS),
                transitions.created_at >= since,
                transitions.created_at < until,
            )
            .order_by(transitions.id)
        )
        for conversation_id, reason, at in rows:
            conversation = served[conversation_id]
            if conversation.handover_at is None:  # the first handover counts
                conversation.handover_at = at
                conversation.reason = (reason or "unspecified")[:MAX_REASON]


def _count(result: AssistantMetrics, conversation: _Conversation) -> None:
    result.conversations += 1
    handed_over = conversation.handover_at is not None
    for intent in {intent for _, intent, _ in conversation.turns}:
        result.intents[intent].conversations += 1
    language = conversation.turns[-1][2]
    result.languages[language].conversations += 1
    if not handed_over:
        result.automated += 1
        result.confirmed_automated += conversation.confirmed
        return
    result.handovers += 1
    result.handover_reasons[conversation.reason] += 1
    result.languages[language].handovers += 1
    assert conversation.handover_at is not None
    before = [t for t in conversation.turns if t[0] <= conversation.handover_at]
    last_intent = (before or conversation.turns)[-1][1]
    result.intents[last_intent].handovers += 1


def default_since(days: int = 7) -> datetime:
    return now() - timedelta(days=days)
