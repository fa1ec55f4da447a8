"""The hook for knowledge articles (shipping, returns, payment policy FAQ).

The ``toonbank.knowledge`` package provides ``search_knowledge(session, workspace_id, query,
language, limit=3) -> list[KnowledgeHit]``; the assistant only depends on this small port, and
uses :data:`NO_KNOWLEDGE` until one is wired in (``AssistantResponder(knowledge=...)``).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class KnowledgeHit(Protocol):
    article_id: str
    title: str
    snippet: str
    source: str
    score: float


class KnowledgeSearch(Protocol):
    async def __call__(
        self, session: AsyncSession, workspace_id: str, query: str, language: str, limit: int = 3
    ) -> list[KnowledgeHit]: ...


async def no_knowledge(
    session: AsyncSession, workspace_id: str, query: str, language: str, limit: int = 3
) -> list[KnowledgeHit]:
    """No articles: the assistant answers from the commerce data or hands over."""
    return []


NO_KNOWLEDGE: KnowledgeSearch = no_knowledge
