"""The knowledge-base hook: suggestions ground themselves in articles through this port.

The knowledge base lives in ``toonbank.knowledge``; this package only needs passages to quote.
The default source, :class:`KnowledgeBase`, reads the workspace's articles through
``search_knowledge``; :func:`use_knowledge` installs another (an external help centre, or
:class:`NoKnowledge` to ground suggestions only in the answer bank, canned responses and order
data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.knowledge.retrieval import search_knowledge


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


class KnowledgeBase:
    """The workspace's own knowledge articles (``toonbank.knowledge``)."""

    async def search(
        self,
        session: AsyncSession,
        workspace_id: str,
        query: str,
        language: str | None,
        limit: int = 3,
    ) -> Sequence[Passage]:
        hits = await search_knowledge(session, workspace_id, query, language, limit=limit)
        return [Passage(h.article_id, h.title, h.snippet, h.score) for h in hits]


_source: KnowledgeSource = KnowledgeBase()


def use_knowledge(source: KnowledgeSource) -> None:
    """Install the knowledge source (once, at application start)."""
    global _source
    _source = source


def knowledge() -> KnowledgeSource:
    return _source
