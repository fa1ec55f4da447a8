"""Store articles: upsert (imports), create, update, delete, list. Never commits.

Chunk embeddings are computed when an article is written (in a worker thread, with the
process-wide encoder of the understanding engine — no second model), so a search only encodes
the question. An unchanged article (same content digest) is not re-encoded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from anyio import to_thread
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.nlu.encoders import Encoder, default_encoder
from toonbank.kit.clock import now
from toonbank.knowledge.articles import ArticleError, ArticleIn
from toonbank.knowledge.markdown import chunks
from toonbank.models import KnowledgeArticle, KnowledgeChunk

MAX_ARTICLES_PER_WORKSPACE = 5_000


class DuplicateArticle(ArticleError):
    """The workspace already has an article with this slug in this language."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    chunks: int

    def to_json(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "chunks": self.chunks,
        }


def article_view(article: KnowledgeArticle) -> dict[str, object]:
    return {
        "id": article.id,
        "slug": article.slug,
        "language": article.language,
        "translation_key": article.translation_key,
        "title": article.title,
        "body": article.body,
        "tags": list(article.tags or []),
        "source_url": article.source_url,
        "created_at": article.created_at.isoformat(),
        "updated_at": article.updated_at.isoformat(),
    }


def _as_input(article: KnowledgeArticle) -> ArticleIn:
    return ArticleIn(
        title=article.title,
        body=article.body,
        language=article.language,
        slug=article.slug,
        tags=tuple(article.tags or ()),
        source_url=article.source_url,
        translation_key=article.translation_key,
    )


@dataclass(frozen=True, slots=True)
class Passages:
    """An article's retrieval passages and their embeddings (float32 bytes), computed before
    the write transaction so a slow encoder never holds the database's write lock."""

    texts: list[str]
    embeddings: list[bytes]
    encoder: str


Embedded = Mapping[tuple[str, str], Passages]
"""Passages by article ``(slug, language)``."""


def passage_key(encoder_name: str, text: str) -> str:
    """Identifies a passage's vector in a precomputed table (see :mod:`toonbank.knowledge.demo`)."""
    return hashlib.sha256(f"{encoder_name}\x1f{text}".encode()).hexdigest()[:40]


async def embed_articles(
    articles: Sequence[ArticleIn],
    encoder: Encoder | None = None,
    *,
    known: Mapping[str, bytes] | None = None,
) -> dict[tuple[str, str], Passages]:
    """Chunk and encode ``articles`` in one batch (in a worker thread; no database access).

    ``known`` maps :func:`passage_key` to precomputed vectors (float32 bytes): passages found
    there are not encoded, so the model is not even loaded when all are."""
    encoder = encoder or default_encoder()
    known = known or {}
    checked = [a.checked() for a in articles]
    per_article = [chunks(a.title, a.body) for a in checked]
    texts = [t for group in per_article for t in group]
    keys = [passage_key(encoder.name, t) for t in texts]
    todo = [t for t, k in zip(texts, keys, strict=True) if k not in known]
    fresh: dict[str, bytes] = {}
    if todo:
        vectors = await to_thread.run_sync(lambda: encoder.encode(todo))
        fresh = {
            passage_key(encoder.name, t): np.asarray(row, dtype=np.float32).tobytes()
            for t, row in zip(todo, vectors, strict=True)
        }
    blobs = [known.get(k) or fresh[k] for k in keys]
    embedded: dict[tuple[str, str], Passages] = {}
    offset = 0
    for article, group in zip(checked, per_article, strict=True):
        part = blobs[offset : offset + len(group)]
        embedded[(article.slug, article.language)] = Passages(list(group), part, encoder.name)
        offset += len(group)
    return embedded


async def changed_articles(
    session: AsyncSession, workspace_id: str, articles: Sequence[ArticleIn]
) -> list[ArticleIn]:
    """The ``articles`` that are new or differ from what the workspace has (read only): the
    ones :func:`embed_articles` must encode before :func:`upsert_articles`."""
    hashes = {
        (slug, language): digest
        for slug, language, digest in await session.execute(
            select(
                KnowledgeArticle.slug, KnowledgeArticle.language, KnowledgeArticle.content_hash
            ).where(KnowledgeArticle.workspace_id == workspace_id)
        )
    }
    checked = [a.checked() for a in articles]
    return [a for a in checked if hashes.get((a.slug, a.language)) != a.content_hash()]


async def _write_chunks(
    session: AsyncSession,
    pairs: Sequence[tuple[KnowledgeArticle, ArticleIn]],
    encoder: Encoder | None,
    embedded: Embedded | None,
) -> int:
    """Replace the chunks of ``pairs``' articles with their passages (``embedded``, else
    encoded now, in one batch)."""
    known = dict(embedded or {})
    missing = [a for _, a in pairs if (a.slug, a.language) not in known]
    if missing:
        known.update(await embed_articles(missing, encoder))
    ids = [row.id for row, _ in pairs]
    if ids:
        await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.article_id.in_(ids)))
    written = 0
    for row, article in pairs:
        passages = known[(article.slug, article.language)]
        for position, (text, blob) in enumerate(
            zip(passages.texts, passages.embeddings, strict=True)
        ):
            session.add(
                KnowledgeChunk(
                    workspace_id=row.workspace_id,
                    article_id=row.id,
                    position=position,
                    text=text,
                    encoder=passages.encoder,
                    embedding=blob,
                )
            )
            written += 1
    await session.flush()
    return written


def _apply(row: KnowledgeArticle, article: ArticleIn) -> None:
    row.title = article.title
    row.body = article.body
    row.language = article.language
    row.slug = article.slug
    row.translation_key = article.translation_key
    row.tags = list(article.tags)
    row.source_url = article.source_url
    row.content_hash = article.content_hash()
    row.updated_at = now()


async def _article_count(session: AsyncSession, workspace_id: str) -> int:
    n = await session.scalar(
        select(func.count())
        .select_from(KnowledgeArticle)
        .where(KnowledgeArticle.workspace_id == workspace_id)
    )
    return int(n or 0)


async def upsert_articles(
    session: AsyncSession,
    workspace_id: str,
    articles: Sequence[ArticleIn],
    encoder: Encoder | None = None,
    *,
    embedded: Embedded | None = None,
) -> ImportResult:
    """Create or update articles by ``(slug, language)``; unchanged ones are left alone.

    Pass ``embedded`` (from :func:`embed_articles` of :func:`changed_articles`, computed
    before the transaction) to keep the encoder out of the write transaction; articles
    without passages there are encoded here."""
    checked = list({(a.slug, a.language): a for a in (x.checked() for x in articles)}.values())
    existing = {
        (row.slug, row.language): row
        for row in (
            await session.execute(
                select(KnowledgeArticle).where(KnowledgeArticle.workspace_id == workspace_id)
            )
        ).scalars()
    }
    new = [a for a in checked if (a.slug, a.language) not in existing]
    if len(existing) + len(new) > MAX_ARTICLES_PER_WORKSPACE:
        raise ArticleError(f"a workspace holds at most {MAX_ARTICLES_PER_WORKSPACE} articles")
    pairs: list[tuple[KnowledgeArticle, ArticleIn]] = []
    created = updated = 0
    for article in checked:
        row = existing.get((article.slug, article.language))
        if row is None:
            row = KnowledgeArticle(workspace_id=workspace_id, created_at=now())
            _apply(row, article)
            session.add(row)
            created += 1
        elif row.content_hash != article.content_hash():
            _apply(row, article)
            updated += 1
        else:
            continue
        pairs.append((row, article))
    await session.flush()
    n_chunks = await _write_chunks(session, pairs, encoder, embedded)
    return ImportResult(created, updated, len(checked) - created - updated, n_chunks)


async def create_article(
    session: AsyncSession,
    workspace_id: str,
    article: ArticleIn,
    encoder: Encoder | None = None,
    *,
    embedded: Embedded | None = None,
) -> KnowledgeArticle:
    article = article.checked()
    if await _find(session, workspace_id, article.slug, article.language) is not None:
        raise DuplicateArticle(f"an article {article.slug!r} in {article.language!r} exists")
    if await _article_count(session, workspace_id) >= MAX_ARTICLES_PER_WORKSPACE:
        raise ArticleError(f"a workspace holds at most {MAX_ARTICLES_PER_WORKSPACE} articles")
    row = KnowledgeArticle(workspace_id=workspace_id, created_at=now())
    _apply(row, article)
    session.add(row)
    await session.flush()
    await _write_chunks(session, [(row, article)], encoder, embedded)
    return row


async def update_article(
    session: AsyncSession,
    workspace_id: str,
    article_id: str,
    changes: dict[str, object],
    encoder: Encoder | None = None,
    *,
    embedded: Embedded | None = None,
) -> KnowledgeArticle | None:
    """Apply ``changes`` (any of the :class:`ArticleIn` fields); None if there is no such
    article in this workspace."""
    row = await get_article(session, workspace_id, article_id)
    if row is None:
        return None
    article = merged_article(row, changes)
    other = await _find(session, workspace_id, article.slug, article.language)
    if other is not None and other.id != row.id:
        raise DuplicateArticle(f"an article {article.slug!r} in {article.language!r} exists")
    if article.content_hash() != row.content_hash:
        _apply(row, article)
        await session.flush()
        await _write_chunks(session, [(row, article)], encoder, embedded)
    return row


def merged_article(row: KnowledgeArticle, changes: dict[str, object]) -> ArticleIn:
    """The stored article with ``changes`` applied, validated."""
    if "tags" in changes:
        tags: Any = changes["tags"] or ()
        changes = {**changes, "tags": tuple(tags)}
    return replace(_as_input(row), **changes).checked()  # type: ignore[arg-type]


async def delete_article(session: AsyncSession, workspace_id: str, article_id: str) -> bool:
    row = await get_article(session, workspace_id, article_id)
    if row is None:
        return False
    await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.article_id == row.id))
    await session.delete(row)
    await session.flush()
    return True


async def get_article(
    session: AsyncSession, workspace_id: str, article_id: str
) -> KnowledgeArticle | None:
    return await session.scalar(
        select(KnowledgeArticle).where(
            KnowledgeArticle.workspace_id == workspace_id, KnowledgeArticle.id == article_id
        )
    )


async def _find(
    session: AsyncSession, workspace_id: str, slug: str, language: str
) -> KnowledgeArticle | None:
    return await session.scalar(
        select(KnowledgeArticle).where(
            KnowledgeArticle.workspace_id == workspace_id,
            KnowledgeArticle.slug == slug,
            KnowledgeArticle.language == language,
        )
    )


async def list_articles(
    session: AsyncSession,
    workspace_id: str,
    *,
    language: str | None = None,
    translation_key: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[KnowledgeArticle], int]:
    """A page of the workspace's articles (by key, then language) and the total count."""
    where = [KnowledgeArticle.workspace_id == workspace_id]
    if language:
        where.append(KnowledgeArticle.language == language)
    if translation_key:
        where.append(KnowledgeArticle.translation_key == translation_key)
    total = await session.scalar(select(func.count()).select_from(KnowledgeArticle).where(*where))
    rows = await session.execute(
        select(KnowledgeArticle)
        .where(*where)
        .order_by(KnowledgeArticle.translation_key, KnowledgeArticle.language)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), int(total or 0)
