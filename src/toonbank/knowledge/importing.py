"""Import articles at a boundary (CLI, demo seeding): encode outside any transaction, then
write in one unit of work, so a slow encoder never holds the database's write lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from toonbank.assistant.nlu.encoders import Encoder
from toonbank.db import Database
from toonbank.knowledge.articles import ArticleIn
from toonbank.knowledge.service import (
    ImportResult,
    changed_articles,
    embed_articles,
    upsert_articles,
)


async def import_articles(
    db: Database,
    workspace_id: str,
    articles: Sequence[ArticleIn],
    encoder: Encoder | None = None,
    *,
    known: Mapping[str, bytes] | None = None,
) -> ImportResult:
    """Create or update ``articles`` (by slug and language) and commit. ``known``:
    precomputed passage vectors (see :func:`embed_articles`)."""
    async with db.session() as session:
        todo = await changed_articles(session, workspace_id, articles)
    embedded = await embed_articles(todo, encoder, known=known)
    async with db.uow() as uow:
        return await upsert_articles(
            uow.session, workspace_id, articles, encoder, embedded=embedded
        )
