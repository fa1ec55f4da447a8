"""A :class:`~toonbank.inbox.suggestions.engine.ReplyGenerator` over the optional generative
layer: the chat model drafts one reply to the customer's question grounded only in the
retrieved candidates (learned answers, canned responses, knowledge passages, the customer's
order and cart), citing them.

The layer's fact guard applies: a draft that states a number (price, amount, order number,
date) no candidate and not the question contains, or that cites no candidate, is dropped
(the agent still sees the retrieved suggestions). Installed at app start when
``TOONBANK_LLM_ENABLED`` is on (:func:`install`); off, suggestions are only retrieved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from toonbank.inbox.suggestions import engine
from toonbank.inbox.suggestions.engine import Candidate, Draft
from toonbank.knowledge.retrieval import KnowledgeHit

if TYPE_CHECKING:
    from toonbank.assistant.generative import GenerativeLayer

log = structlog.get_logger(__name__)


def _title(candidate: Candidate) -> str:
    """What the model is told a candidate is (its first source, described)."""
    for source in candidate.sources:
        kind = source.get("type")
        if kind == "knowledge":
            return f"Article: {source.get('title') or ''}"
        if kind == "canned":
            return f"Canned response: {source.get('title') or ''}"
        if kind == "answer":
            return "Earlier answer by an agent"
        if kind == "order":
            return "The customer's order"
        if kind == "cart":
            return "The customer's open cart"
    return "Suggested reply"


def _merged(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    sources: list[dict[str, Any]] = []
    for candidate in candidates:
        sources.extend(s for s in candidate.sources if s not in sources)
    return sources


class GenerativeDrafts:
    """Drafts with :meth:`GenerativeLayer.answer` (grounded, cited, fact-guarded)."""

    def __init__(self, layer: GenerativeLayer) -> None:
        self.layer = layer
        self.name = f"llm:{layer.model}"

    async def draft(
        self, question: str, language: str | None, grounding: Sequence[Candidate]
    ) -> Draft | None:
        if not grounding:
            return None  # nothing retrieved: nothing to ground a draft in
        hits = [
            KnowledgeHit(
                article_id=str(n), title=_title(c), snippet=c.text, source=str(n), score=c.score
            )
            for n, c in enumerate(grounding)
        ]
        result = await self.layer.answer(question, language, hits, fallback="")
        log.info(
            "suggestion_draft",
            generated=result.generated,
            reason=result.fallback_reason,
            candidates=len(grounding),
        )
        if not result.generated or not result.text.strip():
            return None
        cited = [grounding[int(n)] for n in result.citations]
        return Draft(result.text, _merged(cited))


def install(layer: GenerativeLayer | None) -> None:
    """Use ``layer`` for drafts in this process (None: no drafts, the default)."""
    engine.use_generator(GenerativeDrafts(layer) if layer is not None else None)
