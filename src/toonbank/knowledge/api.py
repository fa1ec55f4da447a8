"""Knowledge REST API under ``/api/v1/knowledge``: articles (CRUD) and search.

Workspace API keys: ``knowledge:read`` to list, read and search; ``knowledge:write`` to
create, change and delete. Every query is scoped to the key's workspace; another workspace's
article is a 404, never a 403 (its existence is not revealed).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from toonbank.api.deps import get_ctx, require_scope
from toonbank.api.errors import ApiError
from toonbank.auth.service import KeyPrincipal
from toonbank.context import Context
from toonbank.knowledge.articles import MAX_BODY, MAX_SLUG, MAX_TITLE, MAX_URL, ArticleError
from toonbank.knowledge.articles import ArticleIn as Article
from toonbank.knowledge.retrieval import MAX_QUERY, MIN_SCORE, search_knowledge
from toonbank.knowledge.service import (
    DuplicateArticle,
    article_view,
    create_article,
    delete_article,
    embed_articles,
    get_article,
    list_articles,
    merged_article,
    update_article,
)

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])

READ = require_scope("knowledge:read")
WRITE = require_scope("knowledge:write")


class ArticleBody(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown.")
    language: str = Field(min_length=2, max_length=8)
    slug: str | None = Field(default=None, max_length=MAX_SLUG)
    translation_key: str | None = Field(default=None, max_length=MAX_SLUG)
    tags: list[str] = Field(default_factory=list, max_length=20)
    source_url: str | None = Field(default=None, max_length=MAX_URL)


class ArticlePatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)
    language: str | None = Field(default=None, min_length=2, max_length=8)
    slug: str | None = Field(default=None, max_length=MAX_SLUG)
    translation_key: str | None = Field(default=None, max_length=MAX_SLUG)
    tags: list[str] | None = Field(default=None, max_length=20)
    source_url: str | None = Field(default=None, max_length=MAX_URL)


def _invalid(exc: ArticleError) -> ApiError:
    if isinstance(exc, DuplicateArticle):
        return ApiError(409, "conflict", str(exc))
    return ApiError(422, "invalid_request", str(exc))


@router.get("/articles")
async def list_endpoint(
    language: str | None = Query(default=None, max_length=8),
    translation_key: str | None = Query(default=None, max_length=MAX_SLUG),
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.session() as session:
        rows, total = await list_articles(
            session,
            principal.workspace_id,
            language=language,
            translation_key=translation_key,
            limit=limit,
            offset=offset,
        )
    return {"articles": [article_view(a) for a in rows], "total": total}


@router.post("/articles", status_code=201)
async def create_endpoint(
    body: ArticleBody, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> Any:
    article = Article(
        title=body.title,
        body=body.body,
        language=body.language,
        slug=body.slug or "",
        tags=tuple(body.tags),
        source_url=body.source_url,
        translation_key=body.translation_key or "",
    )
    try:
        embedded = await embed_articles([article])  # before the transaction: no lock held
        async with ctx.db.session() as session, session.begin():
            row = await create_article(session, principal.workspace_id, article, embedded=embedded)
            view = article_view(row)
    except ArticleError as exc:
        raise _invalid(exc) from None
    return view


@router.get("/articles/{article_id}")
async def get_endpoint(
    article_id: str, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        row = await get_article(session, principal.workspace_id, article_id)
        if row is None:
            raise ApiError(404, "not_found", "no such article")
        return article_view(row)


@router.patch("/articles/{article_id}")
async def update_endpoint(
    article_id: str,
    body: ArticlePatch,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    if changes.get("slug") is None:
        changes.pop("slug", None)
    if changes.get("translation_key") is None:
        changes.pop("translation_key", None)
    if any(changes.get(f) is None for f in ("title", "body", "language") if f in changes):
        raise ApiError(422, "invalid_request", "title, body and language cannot be null")
    try:
        async with ctx.db.session() as session:
            current = await get_article(session, principal.workspace_id, article_id)
            if current is None:
                raise ApiError(404, "not_found", "no such article")
            embedded = await embed_articles([merged_article(current, changes)])
        async with ctx.db.session() as session, session.begin():
            row = await update_article(
                session, principal.workspace_id, article_id, changes, embedded=embedded
            )
            if row is None:
                raise ApiError(404, "not_found", "no such article")
            view = article_view(row)
    except ArticleError as exc:
        raise _invalid(exc) from None
    return view


@router.delete("/articles/{article_id}", status_code=204)
async def delete_endpoint(
    article_id: str, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> None:
    async with ctx.db.session() as session, session.begin():
        if not await delete_article(session, principal.workspace_id, article_id):
            raise ApiError(404, "not_found", "no such article")


@router.get("/search")
async def search_endpoint(
    q: str = Query(min_length=1, max_length=MAX_QUERY),
    language: str | None = Query(default=None, max_length=8),
    limit: int = Query(default=3, ge=1, le=20),
    min_score: float = Query(default=MIN_SCORE, ge=0.0, le=2.0),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """The best articles for ``q`` (best first); each hit names the ``source`` to cite."""
    async with ctx.db.session() as session:
        hits = await search_knowledge(
            session, principal.workspace_id, q, language, limit, min_score=min_score
        )
    return {"query": q, "language": language, "hits": [h.to_json() for h in hits]}
