"""The demo shop's help centre: FAQ articles in English and Dutch (shipping, returns, payment,
warranty, store services, sizes, care, order changes), seeded with the demo workspace.

Prices are deliberately absent: delivery costs and product prices come from the commerce
core at the moment they are asked for, never from an article that could be out of date.

The passages' vectors under the default encoder ship precomputed in
``data/demo-embeddings.npz`` so ``serve --demo`` does not load the model or encode at start
(a passage missing there — edited article, other encoder — is encoded as usual). Rebuild the
file after editing the articles: ``python -m toonbank.knowledge.demo``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from toonbank.assistant.nlu.encoders import default_encoder
from toonbank.db import Database
from toonbank.knowledge.importing import import_articles
from toonbank.knowledge.markdown import chunks
from toonbank.knowledge.service import ImportResult, passage_key
from toonbank.knowledge.sources import read_path
from toonbank.models import KnowledgeArticle

DATA = Path(__file__).resolve().parent / "data"
DEMO_ARTICLES = DATA / "demo"
DEMO_EMBEDDINGS = DATA / "demo-embeddings.npz"


def precomputed() -> dict[str, bytes]:
    """The shipped passage vectors by :func:`passage_key` (empty when the file is missing)."""
    if not DEMO_EMBEDDINGS.exists():
        return {}
    with np.load(DEMO_EMBEDDINGS, allow_pickle=False) as data:
        keys, vectors = data["keys"], data["vectors"].astype(np.float32)
    return {str(k): v.tobytes() for k, v in zip(keys, vectors, strict=True)}


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
    articles = read_path(DEMO_ARTICLES)
    return await import_articles(db, workspace_id, articles, known=precomputed())


def write_precomputed() -> int:
    """Encode every demo passage with the default encoder and write ``DEMO_EMBEDDINGS``."""
    encoder = default_encoder()
    texts = [t for a in read_path(DEMO_ARTICLES) for t in chunks(a.title, a.body)]
    vectors = encoder.encode(texts)
    keys = np.array([passage_key(encoder.name, t) for t in texts])
    np.savez_compressed(DEMO_EMBEDDINGS, keys=keys, vectors=vectors.astype(np.float32))
    return len(texts)


if __name__ == "__main__":
    print(f"{write_precomputed()} passages written to {DEMO_EMBEDDINGS}")
