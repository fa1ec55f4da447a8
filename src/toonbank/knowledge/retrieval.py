"""Hybrid retrieval over a workspace's knowledge chunks: BM25 + multilingual embeddings.

* **Semantic**: cosine similarity of the question's embedding (the understanding engine's
  encoder, multilingual, so a Dutch question finds an English article) with the stored chunk
  embeddings.
* **Lexical**: BM25 (``rank_bm25``'s Okapi) over accent-folded tokens cut to their first six
  letters — a crude multilingual stemmer (``retour``, ``retourneren``, ``retourzending`` meet)
  that rewards exact terms such as "Klarna" or "PostNL" which embeddings blur.

``score = cosine + LEXICAL_WEIGHT * bm25 / (bm25 + BM25_HALF)``: the lexical part saturates, so
scores mean the same across questions and one threshold (``MIN_SCORE``) separates answers
from noise. An article scores as its best chunk; of translations (same ``translation_key``)
the one in the asker's language is returned when it exists.

The index of a workspace (matrix and BM25 statistics) is built on first search and kept per
process; it is rebuilt when the workspace's articles or chunks change.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog
from anyio import to_thread
from rank_bm25 import BM25Okapi
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.nlu.encoders import Encoder, default_encoder
from toonbank.assistant.nlu.text import tokens
from toonbank.models import KnowledgeArticle, KnowledgeChunk

log = structlog.get_logger(__name__)

LEXICAL_WEIGHT = 0.12
BM25_HALF = 4.0
SAME_LANGUAGE_BONUS = 0.01
MIN_SCORE = 0.81
"""Below this a hit is noise. Chosen on tests/knowledge/questions.csv as the highest value
that loses no correct first hit (docs/benchmarks.md); it rejects only part of out-of-scope
questions, so the intent classifier's out-of-scope decision stays the first filter."""
SNIPPET_CHARS = 320
STEM = 6
INDEXES_KEPT = 32
MAX_QUERY = 1000


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    """One article that answers a question. ``source`` is what an answer cites: the
    article's ``source_url`` when it has one, else its slug."""

    article_id: str
    title: str
    snippet: str
    source: str
    score: float
    language: str = ""
    slug: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "snippet": self.snippet,
            "source": self.source,
            "score": round(self.score, 4),
            "language": self.language,
            "slug": self.slug,
        }


@dataclass(frozen=True, slots=True)
class _Article:
    id: str
    title: str
    slug: str
    language: str
    key: str
    source: str


@dataclass
class _Index:
    signature: tuple[Any, ...]
    chunk_articles: list[str]
    chunk_texts: list[str]
    matrix: npt.NDArray[np.float32]
    bm25: BM25Okapi | None
    articles: dict[str, _Article]


def lexical_tokens(text: str) -> list[str]:
    return [t[:STEM] for t in tokens(text) if len(t) > 1 or t.isdigit()]


_indexes: OrderedDict[str, _Index] = OrderedDict()
_lock = threading.Lock()


async def _signature(session: AsyncSession, workspace_id: str) -> tuple[Any, ...]:
    """Changes whenever an article or chunk of the workspace is written or deleted (SQLite may
    reuse a deleted row's id, so chunk ids alone are not enough: every write also moves the
    article's ``updated_at``)."""
    articles = (
        await session.execute(
            select(func.count(KnowledgeArticle.id), func.max(KnowledgeArticle.updated_at)).where(
                KnowledgeArticle.workspace_id == workspace_id
            )
        )
    ).one()
    chunks = (
        await session.execute(
            select(func.count(KnowledgeChunk.id), func.max(KnowledgeChunk.id)).where(
                KnowledgeChunk.workspace_id == workspace_id
            )
        )
    ).one()
    return (int(articles[0] or 0), str(articles[1]), int(chunks[0] or 0), int(chunks[1] or 0))


async def _index(session: AsyncSession, workspace_id: str, encoder: Encoder) -> _Index:
    signature = await _signature(session, workspace_id)
    cache_key = f"{workspace_id}:{encoder.name}"
    with _lock:
        index = _indexes.get(cache_key)
        if index is not None and index.signature == signature:
            _indexes.move_to_end(cache_key)
            return index
    index = await _build(session, workspace_id, encoder, signature)
    with _lock:
        _indexes[cache_key] = index
        while len(_indexes) > INDEXES_KEPT:
            _indexes.popitem(last=False)
    return index


async def _build(
    session: AsyncSession, workspace_id: str, encoder: Encoder, signature: tuple[Any, ...]
) -> _Index:
    articles = {
        a.id: _Article(a.id, a.title, a.slug, a.language, a.translation_key, a.source_url or a.slug)
        for a in (
            await session.execute(
                select(KnowledgeArticle).where(KnowledgeArticle.workspace_id == workspace_id)
            )
        ).scalars()
    }
    rows = (
        await session.execute(
            select(
                KnowledgeChunk.article_id,
                KnowledgeChunk.text,
                KnowledgeChunk.encoder,
                KnowledgeChunk.embedding,
            )
            .where(KnowledgeChunk.workspace_id == workspace_id)
            .order_by(KnowledgeChunk.id)
        )
    ).all()
    rows = [r for r in rows if r.article_id in articles]
    stale = [i for i, r in enumerate(rows) if r.encoder != encoder.name]
    vectors = [np.frombuffer(r.embedding, dtype=np.float32) for r in rows]
    if stale:  # written under another encoder: re-encode in memory (re-import to persist)
        log.warning("knowledge_chunks_reencoded", count=len(stale), encoder=encoder.name)
        fresh = await to_thread.run_sync(lambda: encoder.encode([rows[i].text for i in stale]))
        for i, vector in zip(stale, fresh, strict=True):
            vectors[i] = vector
    texts = [r.text for r in rows]
    corpus = [lexical_tokens(t) for t in texts]
    return _Index(
        signature=signature,
        chunk_articles=[r.article_id for r in rows],
        chunk_texts=texts,
        matrix=np.vstack(vectors) if vectors else np.zeros((0, 1), dtype=np.float32),
        bm25=BM25Okapi(corpus) if any(corpus) else None,
        articles=articles,
    )


def _snippet(title: str, chunk: str) -> str:
    text = chunk[len(title) + 2 :] if chunk.startswith(f"{title}. ") else chunk
    if len(text) <= SNIPPET_CHARS:
        return text
    cut = text.rfind(" ", 0, SNIPPET_CHARS)
    return text[: cut if cut > 0 else SNIPPET_CHARS].rstrip(",;:") + "…"


def _rank(
    index: _Index, query_vector: npt.NDArray[np.float32], query: str, language: str | None
) -> list[tuple[float, int]]:
    """(score, chunk position) of every chunk, best first."""
    semantic = index.matrix @ query_vector
    lexical = np.zeros(len(index.chunk_texts), dtype=np.float64)
    words = lexical_tokens(query)
    if index.bm25 is not None and words:
        raw = np.maximum(np.asarray(index.bm25.get_scores(words), dtype=np.float64), 0.0)
        lexical = raw / (raw + BM25_HALF)
    scores = semantic.astype(np.float64) + LEXICAL_WEIGHT * lexical
    if language:
        same = np.array(
            [index.articles[a].language == language for a in index.chunk_articles], dtype=bool
        )
        scores = scores + SAME_LANGUAGE_BONUS * same
    order = np.argsort(-scores)
    return [(float(scores[i]), int(i)) for i in order]


def _select(
    index: _Index, ranked: list[tuple[float, int]], language: str | None, limit: int, floor: float
) -> list[KnowledgeHit]:
    best: dict[str, tuple[float, int]] = {}  # translation key -> (score, chunk) of its best
    per_article: dict[str, tuple[float, int]] = {}
    for score, i in ranked:
        if score < floor:
            break
        article = index.articles[index.chunk_articles[i]]
        per_article.setdefault(article.id, (score, i))
        best.setdefault(article.key, (score, i))
    hits: list[KnowledgeHit] = []
    for key, (score, i) in sorted(best.items(), key=lambda kv: -kv[1][0])[:limit]:
        article = index.articles[index.chunk_articles[i]]
        if language and article.language != language:
            # Prefer the translation in the asker's language, with its own best chunk.
            twin = next(
                (
                    a
                    for a in index.articles.values()
                    if a.key == key and a.language == language and a.id in per_article
                ),
                None,
            )
            if twin is not None:
                article, i = twin, per_article[twin.id][1]
        hits.append(
            KnowledgeHit(
                article_id=article.id,
                title=article.title,
                snippet=_snippet(article.title, index.chunk_texts[i]),
                source=article.source,
                score=score,
                language=article.language,
                slug=article.slug,
            )
        )
    return hits


async def search_knowledge(
    session: AsyncSession,
    workspace_id: str,
    query: str,
    language: str | None,
    limit: int = 3,
    *,
    min_score: float = MIN_SCORE,
    encoder: Encoder | None = None,
) -> list[KnowledgeHit]:
    """The workspace's articles that best answer ``query``, best first (at most ``limit``;
    none when nothing scores ``min_score``). ``language`` is the asker's (ISO 639-1, or None):
    an article in it is preferred over its translations, but any language can match.

    Only this workspace's articles are searched. The question is encoded in a worker thread.
    Answers built from a hit should cite ``hit.source``.
    """
    query = query.strip()[:MAX_QUERY]
    if not query or limit < 1:
        return []
    encoder = encoder or default_encoder()
    index = await _index(session, workspace_id, encoder)
    if not index.chunk_articles:
        return []
    vector = (await to_thread.run_sync(lambda: encoder.encode([query])))[0]
    ranked = _rank(index, vector, query, language)
    return _select(index, ranked, language, limit, min_score)
