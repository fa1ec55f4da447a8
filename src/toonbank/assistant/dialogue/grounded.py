"""Knowledge answers: the best article's snippet with its source, or — when the optional
generative layer is on (``Context.generative``) — the model's answer grounded only in the
retrieved snippets, citing them.

The model only ever sees knowledge snippets here: prices, stock and order facts are read from
the commerce data and said by the deterministic texts, never generated. The layer's guard
rejects any number the snippets and the question do not contain, and an answer that cites
no snippet; then (and on timeout, error or "no answer") the best snippet is sent as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from toonbank.assistant.dialogue.talk import Talk
from toonbank.knowledge.retrieval import KnowledgeHit

log = structlog.get_logger(__name__)

GROUNDING = 3
"""Snippets retrieved for the model to answer from (the deterministic answer uses one)."""


def knowledge_limit(talk: Talk) -> int:
    """How many snippets to retrieve: one for the deterministic answer, more to ground on."""
    return GROUNDING if talk.ctx.generative is not None else 1


def cited(talk: Talk, text: str, sources: Sequence[str]) -> str:
    return f"{text} {talk.t('knowledge_source', source=', '.join(sources))}"


async def knowledge_reply(talk: Talk, hits: Sequence[KnowledgeHit]) -> str:
    """The reply to the customer's question from ``hits`` (best first, at least one)."""
    best = hits[0]
    fallback = cited(talk, best.snippet, [best.source])
    layer = talk.ctx.generative
    if layer is None:
        return fallback
    result = await layer.answer(talk.text, talk.language, hits, fallback=fallback)
    log.info(
        "assistant_generation",
        operation="answer",
        generated=result.generated,
        reason=result.fallback_reason,
        snippets=len(hits),
    )
    talk.generation = "generated" if result.generated else result.fallback_reason
    if not result.generated:
        return result.text
    return cited(talk, result.text, result.citations)


async def answer(talk: Talk, hits: Sequence[KnowledgeHit]) -> None:
    """Send :func:`knowledge_reply` as a text reply."""
    talk.text_reply(await knowledge_reply(talk, hits))
