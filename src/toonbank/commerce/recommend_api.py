"""REST API for recommendations: ``POST /api/v1/recommendations`` to recommend (and audit),
``GET /api/v1/recommendations`` and ``GET /api/v1/recommendations/{id}`` to read the audit.

``catalog:read`` is required; a request or listing for a contact also needs ``orders:read``,
because the reasons and signals reveal what the contact bought. Everything is scoped to the
key's workspace: another workspace's contact, product or record answers 404.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from toonbank.api.deps import get_ctx, require_scope
from toonbank.api.errors import ApiError
from toonbank.auth.service import KeyPrincipal
from toonbank.commerce import recommend as service
from toonbank.commerce.search import SearchQuery
from toonbank.context import Context

router = APIRouter(prefix="/api/v1", tags=["commerce"])
READ = require_scope("catalog:read")


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(default="", max_length=200)
    colours: list[str] = Field(default_factory=list, max_length=10)
    sizes: list[str] = Field(default_factory=list, max_length=10)
    category: str | None = Field(default=None, max_length=200)
    brand: str | None = Field(default=None, max_length=200)
    price_min: Decimal | None = Field(default=None, ge=0)
    price_max: Decimal | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    in_stock: bool = False

    def to_query(self) -> SearchQuery:
        return SearchQuery(
            text=self.text,
            colours=tuple(c[:40] for c in self.colours),
            sizes=tuple(s[:40] for s in self.sizes),
            category=self.category,
            brand=self.brand,
            price_min=self.price_min,
            price_max=self.price_max,
            currency=self.currency,
            in_stock=self.in_stock,
        )


class RecommendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: str | None = Field(default=None, max_length=32)
    product_id: str | None = Field(default=None, max_length=32)
    query: QueryBody | None = None
    language: str | None = Field(default=None, max_length=15)
    limit: int = Field(default=4, ge=1, le=20)


def _contact_scope(principal: KeyPrincipal, contact_id: str | None) -> None:
    if contact_id and not principal.allows("orders:read"):
        raise ApiError(403, "forbidden", "recommendations for a contact need orders:read")


@router.post("/recommendations")
async def create_recommendations(
    body: RecommendBody, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    _contact_scope(principal, body.contact_id)
    request = service.RecommendationRequest(
        contact_id=body.contact_id,
        product_id=body.product_id,
        query=body.query.to_query() if body.query else None,
        language=body.language,
        limit=body.limit,
    )
    try:
        answer = await service.recommend(ctx.db, ctx.search, principal.workspace_id, request)
    except service.UnknownContact:
        raise ApiError(404, "not_found", "no such contact in this workspace") from None
    except service.UnknownProduct:
        raise ApiError(404, "not_found", "no such product in this workspace") from None
    return answer.to_json()


@router.get("/recommendations")
async def list_recommendations(
    contact_id: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=50, ge=1, le=200),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    if not principal.allows("orders:read"):
        raise ApiError(403, "forbidden", "the recommendation audit needs orders:read")
    async with ctx.db.session() as session:
        rows = await service.list_audit(
            session, principal.workspace_id, contact_id=contact_id, limit=limit
        )
    return {"recommendations": [service.audit_json(row) for row in rows]}


@router.get("/recommendations/{recommendation_id}")
async def get_recommendation(
    recommendation_id: str, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    if not principal.allows("orders:read"):
        raise ApiError(403, "forbidden", "the recommendation audit needs orders:read")
    async with ctx.db.session() as session:
        row = await service.get_audit(session, principal.workspace_id, recommendation_id)
    if row is None:
        raise ApiError(404, "not_found", "no such recommendation in this workspace")
    return service.audit_json(row)
