"""Commerce REST API under ``/api/v1``: catalog, stock, search, stores and shipping.

Authenticated by workspace API keys exactly like ``api/rest.py``: ``catalog:read`` to read,
``catalog:write`` to change. Every query filters on the key's workspace; ids of another
workspace answer 404.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from toonbank.api.deps import get_ctx, require_scope
from toonbank.api.errors import ApiError
from toonbank.auth.service import KeyPrincipal
from toonbank.commerce import catalog, shipping, stores
from toonbank.commerce.hours import HoursError
from toonbank.commerce.importers import FORMATS, FeedError, RowError
from toonbank.commerce.imports import ImportOptions, ImportRefused, import_feed
from toonbank.commerce.money import Money, MoneyError
from toonbank.commerce.schemas import (
    ProductPatch,
    ProductsUpsert,
    ShippingBody,
    StockUpdateBody,
    StoreBody,
)
from toonbank.commerce.search import SearchQuery
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import CatalogImport, Location, ProductVariant

router = APIRouter(prefix="/api/v1", tags=["commerce"])

READ = require_scope("catalog:read")
WRITE = require_scope("catalog:write")


def _at(value: datetime | None) -> datetime:
    if value is None:
        return now()
    if value.tzinfo is None:
        raise ApiError(422, "invalid_request", "at: give a time zone offset (e.g. Z or +01:00)")
    return value


# -- products ------------------------------------------------------------------------------


@router.get("/catalog/products")
async def list_products(
    published: bool | None = Query(default=True),
    after: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=50, ge=1, le=500),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.session() as session:
        items = await catalog.list_products(
            session, principal.workspace_id, published=published, after=after, limit=limit
        )
    return {"products": items, "next_after": items[-1]["id"] if len(items) == limit else None}


@router.get("/catalog/products/{product_id}")
async def get_product(
    product_id: str,
    language: str | None = Query(default=None, max_length=15),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.session() as session:
        found = await catalog.get_product(session, principal.workspace_id, product_id, language)
    if found is None:
        raise ApiError(404, "not_found", "no such product in this workspace")
    return found


@router.post("/catalog/products")
async def upsert_products(
    body: ProductsUpsert, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> Any:
    """Create or update products by ``external_id`` (others are left as they are)."""
    try:
        records = [item.to_record(n) for n, item in enumerate(body.products, start=1)]
    except (ValueError, MoneyError) as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    try:
        async with ctx.db.uow() as uow:
            report, ids = await catalog.upsert_products(
                uow.session, principal.workspace_id, records, body.location
            )
            if report.rejected:
                raise _rejected(report.rejected)
    except FeedError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return {"products": ids, "report": report.to_json()}


def _rejected(errors: list[RowError]) -> ApiError:
    first = errors[0]
    return ApiError(422, "invalid_request", f"item {first.row}: {first.item_id}: {first.message}")


@router.patch("/catalog/products/{product_id}")
async def patch_product(
    product_id: str,
    body: ProductPatch,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.uow() as uow:
        changed = await catalog.set_published(
            uow.session, principal.workspace_id, product_id[:32], body.published
        )
    if not changed:
        raise ApiError(404, "not_found", "no such product in this workspace")
    async with ctx.db.session() as session:
        return await catalog.get_product(session, principal.workspace_id, product_id)


@router.get("/catalog/search")
async def search(
    q: str = Query(default="", max_length=200),
    colour: list[str] = Query(default_factory=list),
    size: list[str] = Query(default_factory=list),
    category: str | None = Query(default=None, max_length=200),
    brand: str | None = Query(default=None, max_length=200),
    price_min: Decimal | None = Query(default=None, ge=0),
    price_max: Decimal | None = Query(default=None, ge=0),
    currency: str | None = Query(default=None, min_length=3, max_length=3),
    in_stock: bool = False,
    language: str | None = Query(default=None, max_length=15),
    limit: int = Query(default=20, ge=1, le=100),
    offset: int = Query(default=0, ge=0, le=10_000),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    query = SearchQuery(
        text=q,
        colours=tuple(colour),
        sizes=tuple(size),
        category=category,
        brand=brand,
        price_min=price_min,
        price_max=price_max,
        currency=currency,
        in_stock=in_stock,
        language=language,
        limit=limit,
        offset=offset,
    )
    result = await ctx.search.search(principal.workspace_id, query)
    return result.to_json()


# -- stock ---------------------------------------------------------------------------------


@router.put("/catalog/stock")
async def put_stock(
    body: StockUpdateBody, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> Any:
    """Set absolute quantities per (variant, location); unknown variants are reported."""
    if any(not (item.variant_id or item.sku) for item in body.items):
        raise ApiError(422, "invalid_request", "each item needs a variant_id or a sku")
    updates = [
        catalog.StockUpdate(
            location=i.location, quantity=i.quantity, variant_id=i.variant_id, sku=i.sku
        )
        for i in body.items
    ]
    async with ctx.db.uow() as uow:
        written, errors = await catalog.set_stock(uow.session, principal.workspace_id, updates)
    return {"written": written, "errors": [e.to_json() for e in errors]}


@router.get("/catalog/variants/{variant_id}/stock")
async def variant_stock(
    variant_id: str, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        variant = await session.get(ProductVariant, variant_id[:32])
        if variant is None or variant.workspace_id != principal.workspace_id:
            raise ApiError(404, "not_found", "no such variant in this workspace")
        levels = await catalog.stock_by_location(session, principal.workspace_id, [variant.id])
    return catalog.variant_json(variant, levels[variant.id])


# -- imports -------------------------------------------------------------------------------


@router.post("/catalog/imports")
async def post_import(
    request: Request,
    format: str | None = Query(default=None),
    mode: str = Query(default="full", pattern="^(full|partial|translation)$"),
    currency: str = Query(default="EUR", min_length=3, max_length=3),
    language: str | None = Query(default=None, max_length=15),
    force: bool = False,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Import a feed sent as the request body (GMC TSV/XML, Meta CSV, Shopify CSV)."""
    if format is not None and format not in FORMATS:
        raise ApiError(422, "invalid_request", f"format: one of {', '.join(FORMATS)}")
    body = await request.body()
    options = ImportOptions(
        format=format,
        currency=currency.upper(),
        language=language,
        mode=mode,  # type: ignore[arg-type]
        unpublish_limit=None if force else 0.5,
        filename=request.headers.get("x-filename"),
    )
    try:
        report = await import_feed(ctx.db, principal.workspace_id, io.BytesIO(body), options)
    except ImportRefused as exc:
        raise ApiError(409, "import_refused", str(exc)) from None
    except (FeedError, MoneyError) as exc:
        raise ApiError(422, "invalid_feed", str(exc)) from None
    return report.to_json(max_errors=200)


@router.get("/catalog/imports")
async def list_imports(
    limit: int = Query(default=20, ge=1, le=100),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(CatalogImport)
            .where(CatalogImport.workspace_id == principal.workspace_id)
            .order_by(CatalogImport.started_at.desc())
            .limit(limit)
        )
        return [
            {
                "id": r.id,
                "format": r.format,
                "mode": r.mode,
                "filename": r.filename,
                "rows": r.rows,
                "products_created": r.products_created,
                "products_updated": r.products_updated,
                "products_unchanged": r.products_unchanged,
                "products_unpublished": r.products_unpublished,
                "rejected_rows": r.rejected_rows,
                "errors": r.errors,
                "started_at": r.started_at.isoformat(),
            }
            for r in rows.scalars()
        ]


# -- stores --------------------------------------------------------------------------------


@router.get("/stores")
async def list_stores(
    open_now: bool = False,
    at: datetime | None = None,
    lat: float | None = Query(default=None, ge=-90, le=90),
    lon: float | None = Query(default=None, ge=-180, le=180),
    variant_id: str | None = Query(default=None, max_length=32),
    min_quantity: int = Query(default=1, ge=1),
    service: str | None = Query(default=None, max_length=64),
    city: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=20, ge=1, le=200),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Stores, nearest first given ``lat``/``lon``; filter on open now, stock, service, city."""
    async with ctx.db.session() as session:
        return await stores.find_stores(
            session,
            principal.workspace_id,
            at=_at(at),
            latitude=lat,
            longitude=lon,
            open_now=open_now,
            variant_id=variant_id,
            min_quantity=min_quantity,
            service=service,
            city=city,
            limit=limit,
        )


@router.get("/stores/{code}")
async def get_store(
    code: str,
    at: datetime | None = None,
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.session() as session:
        location = (
            await session.execute(
                select(Location).where(
                    Location.workspace_id == principal.workspace_id, Location.code == code
                )
            )
        ).scalar_one_or_none()
    if location is None:
        raise ApiError(404, "not_found", "no such store in this workspace")
    return stores.store_json(location, _at(at))


@router.put("/stores/{code}")
async def put_store(
    code: str,
    body: StoreBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    try:
        async with ctx.db.uow() as uow:
            location = await stores.upsert_store(
                uow.session, principal.workspace_id, stores.StoreIn(code=code, **body.model_dump())
            )
    except HoursError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return stores.store_json(location, now())


# -- shipping ------------------------------------------------------------------------------


@router.get("/shipping/methods")
async def list_shipping(
    country: str | None = Query(default=None, min_length=2, max_length=2),
    subtotal: Decimal | None = Query(default=None, ge=0),
    currency: str = Query(default="EUR", min_length=3, max_length=3),
    at: datetime | None = None,
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Methods for a country with price (free above a threshold) and delivery estimate."""
    try:
        amount = Money.of(subtotal, currency) if subtotal is not None else None
    except MoneyError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    moment = _at(at)
    async with ctx.db.session() as session:
        methods = await shipping.methods_for(session, principal.workspace_id, country)
    return [shipping.method_json(m, moment, amount) for m in methods]


@router.put("/shipping/methods/{code}")
async def put_shipping(
    code: str,
    body: ShippingBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    try:
        async with ctx.db.uow() as uow:
            method = await shipping.upsert_method(
                uow.session, principal.workspace_id, code, body.model_dump()
            )
    except (HoursError, MoneyError) as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return shipping.method_json(method, now())
