"""Catalog reads and small writes (REST, CLI, the assistant): products, variants, stock.

Every function takes the workspace id and filters on it; an id from another workspace is
simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce.importers import ProductIn, RowError
from toonbank.commerce.imports import (
    ImportOptions,
    ImportReport,
    apply_products,
    ensure_location,
    write_stock,
)
from toonbank.commerce.money import Money
from toonbank.commerce.state import bump_revision
from toonbank.kit.clock import now
from toonbank.models import Location, Product, ProductVariant, StockLevel


def variant_json(
    variant: ProductVariant, stock: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    price = Money(variant.price_minor, variant.currency)
    sale = (
        Money(variant.sale_price_minor, variant.currency)
        if variant.sale_price_minor is not None
        else None
    )
    out: dict[str, Any] = {
        "id": variant.id,
        "external_id": variant.external_id,
        "sku": variant.sku,
        "gtin": variant.gtin,
        "title": variant.title,
        "options": variant.options,
        "colour": variant.colour,
        "size": variant.size,
        "price": price.to_json(),
        "sale_price": sale.to_json() if sale else None,
        "availability": variant.availability,
        "image": variant.image,
        "published": variant.published,
    }
    if stock is not None:
        out["stock"] = stock
        out["quantity"] = sum(s["available"] for s in stock) if stock else None
    return out


def product_json(
    product: Product,
    variants: Sequence[ProductVariant] = (),
    stock: dict[str, list[dict[str, Any]]] | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    translated = (product.translations or {}).get(language or "", {})
    return {
        "id": product.id,
        "external_id": product.external_id,
        "source": product.source,
        "title": translated.get("title") or product.title,
        "description": translated.get("description") or product.description,
        "brand": product.brand,
        "category": product.category,
        "language": product.language,
        "images": product.images,
        "attributes": product.attributes,
        "translations": product.translations,
        "link": product.link,
        "published": product.published,
        "updated_at": product.updated_at.isoformat(),
        "variants": [
            variant_json(v, stock.get(v.id, []) if stock is not None else None) for v in variants
        ],
    }


async def get_product(
    session: AsyncSession, workspace_id: str, product_id: str, language: str | None = None
) -> dict[str, Any] | None:
    product = await session.get(Product, product_id[:32])
    if product is None or product.workspace_id != workspace_id:
        return None
    variants = (
        (
            await session.execute(
                select(ProductVariant)
                .where(
                    ProductVariant.workspace_id == workspace_id,
                    ProductVariant.product_id == product.id,
                )
                .order_by(ProductVariant.position)
            )
        )
        .scalars()
        .all()
    )
    stock = await stock_by_location(session, workspace_id, [v.id for v in variants])
    return product_json(product, variants, stock, language)


async def list_products(
    session: AsyncSession,
    workspace_id: str,
    *,
    published: bool | None = True,
    after: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """A page of products ordered by id (pass the last id as ``after`` for the next page)."""
    query = select(Product).where(Product.workspace_id == workspace_id)
    if published is not None:
        query = query.where(Product.published.is_(published))
    if after:
        query = query.where(Product.id > after)
    products = (await session.execute(query.order_by(Product.id).limit(limit))).scalars().all()
    ids = [p.id for p in products]
    variants: dict[str, list[ProductVariant]] = {}
    if ids:
        rows = await session.execute(
            select(ProductVariant)
            .where(ProductVariant.workspace_id == workspace_id, ProductVariant.product_id.in_(ids))
            .order_by(ProductVariant.position)
        )
        for variant in rows.scalars():
            variants.setdefault(variant.product_id, []).append(variant)
    return [product_json(p, variants.get(p.id, [])) for p in products]


async def stock_by_location(
    session: AsyncSession, workspace_id: str, variant_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {v: [] for v in variant_ids}
    if not variant_ids:
        return out
    rows = await session.execute(
        select(StockLevel, Location.code, Location.name, Location.kind)
        .join(Location, Location.id == StockLevel.location_id)
        .where(
            StockLevel.workspace_id == workspace_id, StockLevel.variant_id.in_(list(variant_ids))
        )
        .order_by(Location.code)
    )
    for level, code, name, kind in rows:
        out[level.variant_id].append(
            {
                "location": code,
                "name": name,
                "kind": kind,
                "quantity": level.quantity,
                "reserved": level.reserved,
                "available": level.quantity - level.reserved,
            }
        )
    return out


async def upsert_products(
    session: AsyncSession, workspace_id: str, items: Sequence[ProductIn], location: str
) -> tuple[ImportReport, dict[str, str]]:
    """Create or update products sent through the API (never unpublishes others)."""
    revision = await bump_revision(session, workspace_id)
    report = ImportReport(format="api", mode="partial")
    options = ImportOptions(mode="partial", location=location)
    ids = await apply_products(session, workspace_id, items, options, report, revision)
    return report, ids


async def set_published(
    session: AsyncSession, workspace_id: str, product_id: str, published: bool
) -> bool:
    revision = await bump_revision(session, workspace_id)
    stamp = now()
    result = await session.execute(
        update(Product)
        .where(Product.workspace_id == workspace_id, Product.id == product_id)
        .values(
            published=published,
            unpublished_at=None if published else stamp,
            updated_at=stamp,
            revision=revision,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass
class StockUpdate:
    location: str
    quantity: int
    variant_id: str | None = None
    sku: str | None = None


async def set_stock(
    session: AsyncSession, workspace_id: str, updates: Sequence[StockUpdate]
) -> tuple[int, list[RowError]]:
    """Set absolute stock levels; returns (written, per-item errors). Unknown ids are errors."""
    errors: list[RowError] = []
    ids = {u.variant_id for u in updates if u.variant_id}
    skus = {u.sku for u in updates if u.sku and not u.variant_id}
    found: dict[str, str] = {}
    by_sku: dict[str, str] = {}
    if ids:
        known = await session.execute(
            select(ProductVariant.id).where(
                ProductVariant.workspace_id == workspace_id, ProductVariant.id.in_(list(ids))
            )
        )
        found = {row[0]: row[0] for row in known}
    if skus:
        rows = await session.execute(
            select(ProductVariant.sku, ProductVariant.id).where(
                ProductVariant.workspace_id == workspace_id, ProductVariant.sku.in_(list(skus))
            )
        )
        by_sku = {row[0]: row[1] for row in rows if row[0] is not None}
    codes = {u.location for u in updates}
    locations = {
        row[0]: row[1]
        for row in await session.execute(
            select(Location.code, Location.id).where(
                Location.workspace_id == workspace_id, Location.code.in_(list(codes))
            )
        )
    }
    levels: dict[tuple[str, str], int] = {}
    for number, item in enumerate(updates, start=1):
        variant = found.get(item.variant_id or "") or by_sku.get(item.sku or "")
        where = item.variant_id or item.sku
        if variant is None:
            errors.append(RowError(number, "no such variant in this workspace", where, "variant"))
            continue
        location = locations.get(item.location)
        if location is None:
            try:
                location = await ensure_location(session, workspace_id, item.location)
                locations[item.location] = location
            except ValueError as exc:
                errors.append(RowError(number, str(exc), where, "location"))
                continue
        if item.quantity < 0:
            errors.append(RowError(number, "must not be negative", where, "quantity"))
            continue
        levels[(location, variant)] = item.quantity
    if levels:
        revision = await bump_revision(session, workspace_id)
        await write_stock(
            session, workspace_id, [(loc, var, q) for (loc, var), q in levels.items()], revision
        )
    return len(levels), errors
