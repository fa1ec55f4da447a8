"""The demo shop's help centre: FAQ articles in English and Dutch (shipping, returns, payment,
warranty, store services, sizes, care, order changes), seeded with the demo workspace.

Prices are deliberately absent: delivery costs and product prices come from the commerce
core at the moment they are asked for, never from an article that could be out of date.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from toonbank.db import Database
from toonbank.knowledge.importing import import_articles
from toonbank.knowledge.service import ImportResult
from toonbank.knowledge.sources import read_path
from toonbank.models import KnowledgeArticle

DEMO_ARTICLES = Path(__file__).resolve().parent / "data" / "demo"


async def seed_knowledge(db: Database, workspace_id: str) -> ImportResult | None:
    """Import the demo articles once (nothing happens when the workspace has articles)."""
    async with db.session() as session:
        existing = await session.scalar(
            select(func.count())
            .select_from(KnowledgeArticle)
            .where(KnowledgeArticle.workspace_id == workspace_id)
        )
    if existing:
        return None
    return await import_articles(db, workspace_id, read_path(DEMO_ARTICLES))
