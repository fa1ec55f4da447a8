"""Knowledge articles (shipping, returns, payment policy FAQ) for the assistant.

The assistant reads the workspace's articles through ``toonbank.knowledge.search_knowledge``
(:data:`KNOWLEDGE_BASE`, the default); any function of the same shape can replace it
(``AssistantResponder(knowledge=...)``), and :data:`NO_KNOWLEDGE` answers nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.knowledge.retrieval import KnowledgeHit, search_knowledge


class KnowledgeSearch(Protocol):
    async def __call__(
        self, session: AsyncSession, workspace_id: str, query: str, language: str, limit: int = 3
    ) -> Sequence[KnowledgeHit]: ...


async def knowledge_base(
    session: AsyncSession, workspace_id: str, query: str, language: str, limit: int = 3
) -> Sequence[KnowledgeHit]:
    """The workspace's own articles, best first (none below the retrieval threshold)."""
    return await search_knowledge(session, workspace_id, query, language, limit)


async def no_knowledge(
    session: AsyncSession, workspace_id: str, query: str, language: str, limit: int = 3
) -> Sequence[KnowledgeHit]:
    """No articles: the assistant answers from the commerce data or hands over."""
    return []


KNOWLEDGE_BASE: KnowledgeSearch = knowledge_base
NO_KNOWLEDGE: KnowledgeSearch = no_knowledge
