"""The lexical ``SearchEngine``: one in-memory index per workspace, kept current by revision.

Each search first reads the workspace's catalog revision (one primary-key lookup). When it
moved, the products and stock levels written since are loaded and applied to the index; the
first search of a workspace (or one after many changes) builds the index from scratch in a
worker thread and swaps it in. Every process keeps its own indexes, so several API processes
and the CLI need no coordination beyond the database.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy import func, select

from toonbank.commerce.search.index import CatalogIndex
from toonbank.commerce.search.port import SearchQuery, SearchResult
from toonbank.commerce.state import current_revision
from toonbank.db import Database
from toonbank.models import Product, ProductVariant, StockLevel

log = structlog.get_logger(__name__)
REBUILD_DEAD_RATIO = 0.3
IN_CHUNK = 500

_PRODUCT_COLUMNS = (
    Product.id,
    Product.external_id,
    Product.title,
    Product.description,
    Product.brand,
    Product.category,
    Product.images,
    Product.attributes,
    Product.translations,
)
_VARIANT_COLUMNS = (
    ProductVariant.id,
    ProductVariant.product_id,
    ProductVariant.title,
    ProductVariant.colour,
    ProductVariant.size,
    ProductVariant.price_minor,
    ProductVariant.sale_price_minor,
    ProductVariant.currency,
    ProductVariant.availability,
    ProductVariant.position,
)


class LexicalSearchEngine:
    def __init__(self, db: Database, *, synonyms: bool = True) -> None:
        self._db = db
        self._synonyms = synonyms
        self._indexes: dict[str, CatalogIndex] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def search(self, workspace_id: str, query: SearchQuery) -> SearchResult:
        index = await self.index(workspace_id)
        return index.search(query)

    async def index(self, workspace_id: str) -> CatalogIndex:
        """The workspace's index, brought up to the current catalog revision."""
        lock = self._locks.setdefault(workspace_id, asyncio.Lock())
        async with lock:
            async with self._db.session() as session:
                revision = await current_revision(session, workspace_id)
            index = self._indexes.get(workspace_id)
            if index is not None and index.revision == revision:
                return index
            if index is None or index.dead_ratio > REBUILD_DEAD_RATIO:
                index = await self._build(workspace_id, revision)
            else:
                await self._refresh(index, workspace_id, revision)
            self._indexes[workspace_id] = index
            return index

    def forget(self, workspace_id: str) -> None:
        self._indexes.pop(workspace_id, None)

    async def _build(self, workspace_id: str, revision: int) -> CatalogIndex:
        async with self._db.session() as session:
            products = (
                await session.execute(
                    select(*_PRODUCT_COLUMNS)
                    .where(Product.workspace_id == workspace_id, Product.published.is_(True))
                    .order_by(Product.external_id)
                )
            ).all()
            variants = (
                await session.execute(
                    select(*_VARIANT_COLUMNS).where(
                        ProductVariant.workspace_id == workspace_id,
                        ProductVariant.published.is_(True),
                    )
                )
            ).all()
            stock = await _stock(session, workspace_id, None)
        index = await asyncio.to_thread(_assemble, products, variants, stock, self._synonyms)
        index.revision = revision
        # Keep the cyclic garbage collector from walking the index's millions of objects on
        # every full collection (pauses of a second at 100,000 products): they live until the
        # next rebuild, and hold no reference cycles, so reference counting frees them then.
        gc.freeze()
        log.debug("search_index_built", workspace_id=workspace_id, products=index.alive)
        return index

    async def _refresh(self, index: CatalogIndex, workspace_id: str, revision: int) -> None:
        since = index.revision
        async with self._db.session() as session:
            changed = (
                await session.execute(
                    select(*_PRODUCT_COLUMNS, Product.published).where(
                        Product.workspace_id == workspace_id, Product.revision > since
                    )
                )
            ).all()
            ids = [row.id for row in changed if row.published]
            variants: list[Any] = []
            for start in range(0, len(ids), IN_CHUNK):
                variants.extend(
                    (
                        await session.execute(
                            select(*_VARIANT_COLUMNS).where(
                                ProductVariant.workspace_id == workspace_id,
                                ProductVariant.product_id.in_(ids[start : start + IN_CHUNK]),
                                ProductVariant.published.is_(True),
                            )
                        )
                    ).all()
                )
            moved = (
                await session.execute(
                    select(StockLevel.variant_id).where(
                        StockLevel.workspace_id == workspace_id, StockLevel.revision > since
                    )
                )
            ).scalars()
            touched = set(moved) | {row.id for row in variants}
            stock = await _stock(session, workspace_id, sorted(touched)) if touched else {}
        by_product: dict[str, list[dict[str, Any]]] = {}
        for row in variants:
            item = dict(row._mapping)
            item["stock"] = stock.get(row.id)
            by_product.setdefault(row.product_id, []).append(item)
        for row in changed:
            if row.published:
                index.add(dict(row._mapping), by_product.get(row.id, []))
            else:
                index.remove(row.id)
        index.set_stock({v: stock.get(v) for v in touched})
        index.revision = revision


async def _stock(
    session: Any, workspace_id: str, variant_ids: Sequence[str] | None
) -> dict[str, int]:
    """Sellable units per variant (quantity minus reserved, over all locations)."""
    statement = (
        select(StockLevel.variant_id, func.sum(StockLevel.quantity - StockLevel.reserved))
        .where(StockLevel.workspace_id == workspace_id)
        .group_by(StockLevel.variant_id)
    )
    if variant_ids is None:
        return {row[0]: int(row[1]) for row in await session.execute(statement)}
    out: dict[str, int] = {}
    for start in range(0, len(variant_ids), IN_CHUNK):
        chunk = variant_ids[start : start + IN_CHUNK]
        rows = await session.execute(statement.where(StockLevel.variant_id.in_(chunk)))
        out.update({row[0]: int(row[1]) for row in rows})
    return out


def _assemble(
    products: Sequence[Any],
    variants: Sequence[Any],
    stock: Mapping[str, int],
    synonyms: bool = True,
) -> CatalogIndex:
    by_product: dict[str, list[dict[str, Any]]] = {}
    for row in variants:
        item = dict(row._mapping)
        item["stock"] = stock.get(row.id)
        by_product.setdefault(row.product_id, []).append(item)
    index = CatalogIndex(bulk=True, synonyms=synonyms)
    for row in products:
        index.add(row._mapping, by_product.get(row.id, []))
    index.finish_bulk()
    return index
