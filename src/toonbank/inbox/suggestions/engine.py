"""Candidate replies from every source, ranked into at most three suggestions.

Sources: the learned answer bank, canned responses, knowledge passages, and the customer's
order and cart. Every candidate carries the sources it stands on, so the agent sees why it
is suggested. Reads only; never writes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.nlu.encoders import Encoder, Vectors, default_encoder
from toonbank.assistant.nlu.text import normalise
from toonbank.inbox.suggestions import bank, phrases
from toonbank.inbox.suggestions.facts import Facts
from toonbank.inbox.suggestions.knowledge import knowledge
from toonbank.inbox.suggestions.templating import render, variables_in
from toonbank.models import CannedResponse

MAX_SUGGESTIONS: Final = 3
BANK_FLOOR: Final = 0.80
NEIGHBOURS: Final = 10
VOTE: Final = 0.02
"""Question cosine (minus demotion) a learned answer needs to be suggested."""
CANNED_FLOOR: Final = 0.86
FACT_FLOOR: Final = 0.90
KNOWLEDGE_FLOOR: Final = 0.5
MAX_CANNED: Final = 500


@dataclass(slots=True)
class Candidate:
    text: str
    score: float
    sources: list[dict[str, Any]] = field(default_factory=list)
    answer_id: str | None = None


GENERATED_SCORE: Final = 0.5
"""Rank of a generated draft: after any retrieved answer that passed its floor."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A generated reply and the sources (of the grounding candidates) it stands on."""

    text: str
    sources: list[dict[str, Any]] = field(default_factory=list)


class ReplyGenerator(Protocol):
    """Port for a text generator that drafts a reply from the question and the retrieved
    candidates (``drafting.GenerativeDrafts``: an OpenAI-compatible chat model through the
    generative layer, installed at app start when ``TOONBANK_LLM_ENABLED`` is on). None is
    installed by default: Toonbank runs offline and suggests only retrieved, fact-filled
    replies."""

    name: str

    async def draft(
        self, question: str, language: str | None, grounding: Sequence[Candidate]
    ) -> Draft | None: ...


_generator: ReplyGenerator | None = None


def use_generator(generator: ReplyGenerator | None) -> None:
    global _generator
    _generator = generator


_encoder: Encoder | None = None
_prototypes: dict[str, tuple[Vectors, Vectors]] = {}
_lock = threading.Lock()


def encoder() -> Encoder:
    """The assistant's multilingual encoder (one model per process, shared)."""
    return _encoder or default_encoder()


def use_encoder(replacement: Encoder | None) -> None:
    global _encoder
    _encoder = replacement


async def embed(texts: Sequence[str]) -> Vectors:
    """Encode off the event loop (the model call is CPU-bound)."""
    return await asyncio.to_thread(encoder().encode, list(texts))


def _fact_prototypes() -> tuple[Vectors, Vectors]:
    model = encoder()
    with _lock:
        if model.name not in _prototypes:
            _prototypes[model.name] = (
                model.encode(list(phrases.ORDER_QUESTIONS)),
                model.encode(list(phrases.CART_QUESTIONS)),
            )
        return _prototypes[model.name]


def rank(candidates: Sequence[Candidate], limit: int = MAX_SUGGESTIONS) -> list[Candidate]:
    """Best first, one per distinct text (its sources merged), at most ``limit``."""
    chosen: dict[str, Candidate] = {}
    for candidate in sorted(candidates, key=lambda c: -c.score):
        key = normalise(candidate.text)
        if not key:
            continue
        if key in chosen:
            known = chosen[key]
            known.sources.extend(s for s in candidate.sources if s not in known.sources)
            continue
        if len(chosen) < limit:
            chosen[key] = Candidate(
                candidate.text, candidate.score, list(candidate.sources), candidate.answer_id
            )
    return list(chosen.values())


def _localised(table: dict[str, str], language: str | None) -> str:
    return table.get((language or "en")[:2], table["en"])


def _fact_sources(template: str, facts: Facts) -> list[dict[str, Any]]:
    names = variables_in(template)
    sources = []
    if facts.order and any(n.startswith("order.") for n in names):
        sources.append(facts.order)
    if facts.cart and any(n.startswith("cart.") for n in names):
        sources.append(facts.cart)
    return sources


async def _from_bank(
    session: AsyncSession,
    workspace_id: str,
    question: str,
    vector: Vectors,
    language: str | None,
    facts: Facts,
) -> list[Candidate]:
    """Learned answers of the nearest questions; an answer that several of the neighbours
    gave gets a vote bonus (k nearest neighbours, not just the single nearest)."""
    matches = await bank.nearest(
        session,
        workspace_id,
        question=question,
        vector=vector,
        encoder=encoder().name,
        language=language,
        limit=NEIGHBOURS,
    )
    groups: dict[str, list[bank.BankMatch]] = {}
    for match in matches:
        groups.setdefault(match.entry.answer, []).append(match)
    found = []
    for template, group in groups.items():
        best = group[0]
        score = best.score + VOTE * (len(group) - 1)
        if best.score < BANK_FLOOR:
            continue
        rendered = render(template, facts.values)
        if not rendered.complete:
            continue  # it needs a fact this customer does not have (no order yet, …)
        source = {
            "type": "answer",
            "id": best.entry.id,
            "question": best.entry.question,
            "similarity": round(best.similarity, 3),
            "votes": len(group),
        }
        found.append(
            Candidate(
                rendered.text, score, [source, *_fact_sources(template, facts)], best.entry.id
            )
        )
    return found


async def _from_canned(
    session: AsyncSession,
    workspace_id: str,
    vector: Vectors,
    language: str | None,
    facts: Facts,
) -> list[Candidate]:
    query = select(CannedResponse).where(
        CannedResponse.workspace_id == workspace_id,
        CannedResponse.encoder == encoder().name,
    )
    if language:
        query = query.where(
            or_(CannedResponse.language == language, CannedResponse.language.is_(None))
        )
    rows = list((await session.execute(query.limit(MAX_CANNED))).scalars())
    rows = [r for r in rows if r.embedding]
    if not rows:
        return []
    scores = np.vstack([bank.from_blob(r.embedding or b"") for r in rows]) @ vector
    found = []
    for row, score in zip(rows, scores, strict=True):
        rendered = render(row.body, facts.values)
        if float(score) < CANNED_FLOOR or not rendered.complete:
            continue
        source = {"type": "canned", "id": row.id, "title": row.title, "shortcut": row.shortcut}
        found.append(
            Candidate(rendered.text, float(score), [source, *_fact_sources(row.body, facts)], None)
        )
    return found


async def _from_knowledge(
    session: AsyncSession, workspace_id: str, question: str, language: str | None
) -> list[Candidate]:
    # One passage: the best article is worth suggesting, its neighbours would crowd out the
    # answer bank and the canned responses (three suggestions in all).
    passages = await knowledge().search(session, workspace_id, question, language, limit=1)
    return [
        Candidate(
            p.text,
            float(p.score),
            [{"type": "knowledge", "id": p.article_id, "title": p.title}],
        )
        for p in passages
        if p.score >= KNOWLEDGE_FLOOR and p.text.strip()
    ]


def _from_facts(
    vector: Vectors, language: str | None, facts: Facts, prototypes: tuple[Vectors, Vectors]
) -> list[Candidate]:
    orders, carts = prototypes
    found = []
    order_score = float(np.max(orders @ vector))
    if facts.order is not None and order_score >= FACT_FLOOR:
        shipped = facts.values.get("order.tracking_number") and facts.values.get("order.carrier")
        table = phrases.SHIPPED if shipped else phrases.ORDER_STATUS
        rendered = render(_localised(table, language), facts.values)
        if rendered.complete:
            found.append(Candidate(rendered.text, order_score, [facts.order]))
    cart_score = float(np.max(carts @ vector))
    if facts.cart is not None and cart_score >= FACT_FLOOR:
        rendered = render(_localised(phrases.CART, language), facts.values)
        if rendered.complete:
            found.append(Candidate(rendered.text, cart_score, [facts.cart]))
    return found


async def retrieve(
    session: AsyncSession,
    workspace_id: str,
    *,
    question: str,
    vector: Vectors,
    language: str | None,
    facts: Facts,
) -> list[Candidate]:
    """Every retrieved candidate reply to ``question`` (its embedding: ``vector``), unranked."""
    candidates = [
        *await _from_bank(session, workspace_id, question, vector, language, facts),
        *await _from_canned(session, workspace_id, vector, language, facts),
        *await _from_knowledge(session, workspace_id, question, language),
    ]
    if facts.order is not None or facts.cart is not None:
        prototypes = await asyncio.to_thread(_fact_prototypes)
        candidates.extend(_from_facts(vector, language, facts, prototypes))
    return candidates


async def drafted(
    question: str, language: str | None, candidates: Sequence[Candidate]
) -> list[Candidate]:
    """Up to three suggestions: the ranked ``candidates`` plus the installed generator's
    draft grounded in them (it keeps a place: it replaces the third retrieved one). Needs no
    session: call it outside any transaction."""
    ranked = rank(candidates)
    if _generator is None:
        return ranked
    draft = await _generator.draft(question, language, ranked)
    if draft is None or not draft.text.strip():
        return ranked
    source = {"type": "generated", "provider": _generator.name}
    generated = Candidate(draft.text.strip(), GENERATED_SCORE, [source, *draft.sources])
    with_draft = rank([*candidates, generated])
    if any(source in c.sources for c in with_draft):  # kept, or equal to a retrieved one
        return with_draft
    return [*rank(candidates, MAX_SUGGESTIONS - 1), generated]


async def suggest(
    session: AsyncSession,
    workspace_id: str,
    *,
    question: str,
    vector: Vectors,
    language: str | None,
    facts: Facts,
) -> list[Candidate]:
    """Up to three suggested replies to ``question`` (its embedding: ``vector``)."""
    candidates = await retrieve(
        session, workspace_id, question=question, vector=vector, language=language, facts=facts
    )
    return await drafted(question, language, candidates)
