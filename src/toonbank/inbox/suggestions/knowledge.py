"""The knowledge-base hook: suggestions ground themselves in articles through this port.

The knowledge base lives elsewhere (``toonbank.knowledge``); this package only needs passages
to quote. Until a source is installed with :func:`use_knowledge`, :class:`NoKnowledge`
answers nothing and suggestions come from the answer bank, canned responses and order data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Passage:
    """A knowledge article passage that can be sent as (part of) a reply."""

    article_id: str
    title: str
    text: str
    score: float
    """Relevance in [0, 1], comparable to a cosine similarity."""


class KnowledgeSource(Protocol):
    async def search(
        self,
        session: AsyncSession,
        workspace_id: str,
        query: str,
        language: str | None,
        limit: int = 3,
    ) -> Sequence[Passage]:
        """The best passages of ``workspace_id``'s articles for ``query``, best first."""
        ...


class NoKnowledge:
    """No knowledge base installed: no passages."""

    async def search(
        self,
        session: AsyncSession,
        workspace_id: str,
        query: str,
        language: str | None,
        limit: int = 3,
    ) -> Sequence[Passage]:
        return ()


_source: KnowledgeSource = NoKnowledge()


def use_knowledge(source: KnowledgeSource) -> None:
    """Install the knowledge source (once, at application start)."""
    global _source
    _source = source


def knowledge() -> KnowledgeSource:
    return _source
