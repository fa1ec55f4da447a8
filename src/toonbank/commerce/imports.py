"""Writing parsed feeds into the catalog: set-based, incremental, in one transaction.

Rows are matched on the feed's own key (``external_id``: the GMC/Meta ``item_group_id`` or
``id`` for products and ``id`` for variants; the Shopify handle, and handle plus option values
for variants). A row whose content hash is unchanged is not written. A full import unpublishes
products (and variants of imported products) that the feed no longer has; nothing is deleted,
so ids that carts and orders point at stay valid.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Literal, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce.importers import FeedError, ParseResult, ProductIn, RowError, parse_feed
from toonbank.commerce.state import bump_revision
from toonbank.db import Database
from toonbank.db.portable import bulk_insert, insert_ignore, upsert
from toonbank.kit.clock import now
from toonbank.models import (
    CatalogImport,
    Category,
    Location,
    Product,
    ProductVariant,
    StockLevel,
)

Mode = Literal["full", "partial", "translation"]
CHUNK = 2000
DEFAULT_LOCATION = "online"
MASS_UNPUBLISH_FLOOR = 20
"""Catalogs smaller than this may be emptied by a feed without ``force``."""

P = Product.__table__
V = ProductVariant.__table__
S = StockLevel.__table__


def new_id() -> str:
    """The same 32-hex random ids as ``models.new_id``, without uuid's per-call overhead."""
    return os.urandom(16).hex()


class ImportRefused(ValueError):
    """The import would do something drastic (e.g. unpublish most of the catalog)."""


class ImportProgress(Protocol):
    def read(self, done: int) -> None: ...
    def stage(self, name: str, total: int) -> None: ...
    def advance(self, n: int) -> None: ...


@dataclass
class ImportOptions:
    format: str | None = None
    currency: str = "EUR"
    language: str | None = None
    mode: Mode = "full"
    location: str = DEFAULT_LOCATION
    unpublish_limit: float | None = 0.5
    """Refuse a full import that would unpublish more than this share of published products."""
    filename: str | None = None


@dataclass
class ImportReport:
    format: str
    mode: str
    rows: int = 0
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    products_unpublished: int = 0
    variants_created: int = 0
    variants_updated: int = 0
    variants_unpublished: int = 0
    stock_levels_written: int = 0
    rejected: list[RowError] = field(default_factory=list)
    seconds: float = 0.0
    id: str | None = None

    @property
    def products_in_feed(self) -> int:
        return self.products_created + self.products_updated + self.products_unchanged

    def to_json(self, max_errors: int | None = None) -> dict[str, Any]:
        errors = self.rejected if max_errors is None else self.rejected[:max_errors]
        return {
            "id": self.id,
            "format": self.format,
            "mode": self.mode,
            "rows": self.rows,
            "products": {
                "in_feed": self.products_in_feed,
                "created": self.products_created,
                "updated": self.products_updated,
                "unchanged": self.products_unchanged,
                "unpublished": self.products_unpublished,
            },
            "variants": {
                "created": self.variants_created,
                "updated": self.variants_updated,
                "unpublished": self.variants_unpublished,
            },
            "stock_levels_written": self.stock_levels_written,
            "rejected_rows": len(self.rejected),
            "errors": [e.to_json() for e in errors],
            "seconds": round(self.seconds, 3),
        }


class _Quiet:
    def read(self, done: int) -> None:
        pass

    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


async def import_feed(
    db: Database,
    workspace_id: str,
    raw: IO[bytes],
    options: ImportOptions,
    progress: ImportProgress | None = None,
) -> ImportReport:
    """Parse ``raw`` (off the event loop) and apply it in one unit of work."""
    began = time.perf_counter()
    bar = progress or _Quiet()
    parsed = await asyncio.to_thread(
        parse_feed, raw, options.format, currency=options.currency, progress=bar.read
    )
    async with db.uow() as uow:
        report = await apply_parsed(uow.session, workspace_id, parsed, options, bar)
        report.seconds = time.perf_counter() - began
        await _record(uow.session, workspace_id, report, options)
    return report


async def apply_parsed(
    session: AsyncSession,
    workspace_id: str,
    parsed: ParseResult,
    options: ImportOptions,
    progress: ImportProgress | None = None,
) -> ImportReport:
    bar = progress or _Quiet()
    report = ImportReport(format=parsed.format, mode=options.mode, rows=parsed.rows)
    report.rejected.extend(parsed.errors)
    revision = await bump_revision(session, workspace_id)
    if parsed.format == "gmc_local":
        report.mode = "stock"
        await _apply_stock_feed(session, workspace_id, parsed, report, revision)
    elif options.mode == "translation":
        if not options.language:
            raise FeedError("a translation import needs --language")
        await _apply_translations(
            session, workspace_id, parsed.products, options.language, report, revision
        )
    else:
        await apply_products(
            session, workspace_id, parsed.products, options, report, revision, bar, parsed.format
        )
    report.rejected.sort(key=lambda e: e.row)
    return report


async def apply_products(
    session: AsyncSession,
    workspace_id: str,
    products: Sequence[ProductIn],
    options: ImportOptions,
    report: ImportReport,
    revision: int,
    progress: ImportProgress | None = None,
    source: str = "api",
) -> dict[str, str]:
    """Create or update ``products`` and their variants; returns external id → product id."""
    bar = progress or _Quiet()
    stamp = now()
    old_products = {
        row.external_id: row
        for row in await session.execute(
            select(P.c.external_id, P.c.id, P.c.content_hash, P.c.published).where(
                P.c.workspace_id == workspace_id
            )
        )
    }
    old_variants = {
        row.external_id: row
        for row in await session.execute(
            select(V.c.external_id, V.c.id, V.c.product_id, V.c.content_hash, V.c.published).where(
                V.c.workspace_id == workspace_id
            )
        )
    }
    by_product: dict[str, list[Any]] = {}
    for row in old_variants.values():
        by_product.setdefault(row.product_id, []).append(row)

    p_new: list[dict[str, Any]] = []
    p_upd: list[dict[str, Any]] = []
    v_new: list[dict[str, Any]] = []
    v_upd: list[dict[str, Any]] = []
    v_off: list[dict[str, Any]] = []
    stock: list[tuple[str, int]] = []
    ids: dict[str, str] = {}
    seen_variants: set[str] = set()
    for product in products:
        digest = product.content_hash(options.language)
        old = old_products.get(product.external_id)
        product_id = old.id if old is not None else new_id()
        ids[product.external_id] = product_id
        touched = old is None or old.content_hash != digest or old.published != product.published
        for position, variant in enumerate(product.variants):
            if variant.external_id in seen_variants:
                report.rejected.append(
                    RowError(variant.row, "appears more than once", variant.external_id, "id")
                )
                continue
            seen_variants.add(variant.external_id)
            v_digest = variant.content_hash(product.external_id, position)
            current = old_variants.get(variant.external_id)
            variant_id = current.id if current is not None else new_id()
            values = _variant_values(variant, position, v_digest, stamp)
            if current is None:
                v_new.append(
                    {**values, "id": variant_id, "workspace_id": workspace_id,
                     "product_id": product_id, "external_id": variant.external_id,
                     "created_at": stamp}
                )  # fmt: skip
                report.variants_created += 1
                touched = True
            elif (
                current.content_hash != v_digest
                or not current.published
                or current.product_id != product_id
            ):
                v_upd.append({**values, "b_id": variant_id, "product_id": product_id})
                report.variants_updated += 1
                touched = True
            if variant.quantity is not None:
                stock.append((variant_id, variant.quantity))
        if old is not None:
            for row in by_product.get(product_id, []):
                if row.external_id not in seen_variants and row.published:
                    v_off.append({"b_id": row.id, "published": False, "updated_at": stamp})
                    report.variants_unpublished += 1
                    touched = True
        values = _product_values(product, digest, options.language, revision, stamp, source)
        if old is None:
            p_new.append(
                {**values, "id": product_id, "workspace_id": workspace_id,
                 "external_id": product.external_id, "created_at": stamp}
            )  # fmt: skip
            report.products_created += 1
        elif touched:
            p_upd.append({**values, "b_id": product_id})
            report.products_updated += 1
        else:
            report.products_unchanged += 1

    p_off: list[dict[str, Any]] = []
    if options.mode == "full":
        published = [row for row in old_products.values() if row.published]
        gone = [row for row in published if row.external_id not in ids]
        _check_unpublish(len(gone), len(published), len(products), options)
        p_off = [
            {"b_id": row.id, "published": False, "unpublished_at": stamp, "updated_at": stamp,
             "revision": revision}
            for row in gone
        ]  # fmt: skip
        report.products_unpublished = len(p_off)

    total = len(p_new) + len(p_upd) + len(v_new) + len(v_upd) + len(v_off) + len(p_off)
    bar.stage("writing", total + len(stock))
    await _insert(session, P, p_new, bar)
    await _update(session, P, p_upd, bar)
    await _update(session, P, p_off, bar)
    await _insert(session, V, v_new, bar)
    await _update(session, V, v_upd, bar)
    await _update(session, V, v_off, bar)
    await _categories(session, workspace_id, (p.category for p in products))
    if stock:
        location_id = await ensure_location(session, workspace_id, options.location)
        await write_stock(session, workspace_id, [(location_id, v, q) for v, q in stock], revision)
        report.stock_levels_written += len(stock)
        bar.advance(len(stock))
    return ids


def _check_unpublish(gone: int, published: int, incoming: int, options: ImportOptions) -> None:
    if options.unpublish_limit is None or gone == 0:
        return
    if incoming == 0:
        raise ImportRefused(
            f"the feed has no valid products; a full import would unpublish all {published} "
            "(fix the feed, import with --partial, or pass --force)"
        )
    if published >= MASS_UNPUBLISH_FLOOR and gone > options.unpublish_limit * published:
        raise ImportRefused(
            f"the feed would unpublish {gone} of {published} published products "
            f"(more than {options.unpublish_limit:.0%}); is the file complete? "
            "Pass --force to import anyway, or --partial to only add and update"
        )


def _product_values(
    product: ProductIn,
    digest: str,
    language: str | None,
    revision: int,
    stamp: datetime,
    source: str,
) -> dict[str, Any]:
    return {
        "source": source,
        "title": product.title,
        "description": product.description,
        "brand": product.brand,
        "category": product.category,
        "language": language,
        "images": product.images,
        "attributes": product.attributes,
        "link": product.link,
        "published": product.published,
        "unpublished_at": None if product.published else stamp,
        "content_hash": digest,
        "revision": revision,
        "updated_at": stamp,
    }


def _variant_values(variant: Any, position: int, digest: str, stamp: datetime) -> dict[str, Any]:
    return {
        "sku": variant.sku,
        "gtin": variant.gtin,
        "title": variant.title,
        "options": variant.options,
        "colour": variant.colour,
        "size": variant.size,
        "price_minor": variant.price.minor,
        "sale_price_minor": variant.sale_price.minor if variant.sale_price else None,
        "currency": variant.price.currency,
        "availability": variant.availability,
        "image": variant.image,
        "position": position,
        "published": True,
        "content_hash": digest,
        "updated_at": stamp,
    }


async def _insert(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]], bar: ImportProgress
) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        await bulk_insert(session, table, chunk)
        bar.advance(len(chunk))


async def _update(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]], bar: ImportProgress
) -> None:
    """Executemany ``UPDATE … WHERE id = :b_id`` (rows may differ in which keys they set)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(sorted(row)), []).append(row)
    for keys, group in shapes.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({key: bindparam(key) for key in keys if key != "b_id"})
        )
        for start in range(0, len(group), CHUNK):
            chunk = group[start : start + CHUNK]
            await session.execute(statement, chunk)
            bar.advance(len(chunk))


async def _categories(
    session: AsyncSession, workspace_id: str, paths: Iterable[str | None]
) -> None:
    wanted: dict[str, tuple[str, str | None]] = {}
    for path in paths:
        if not path:
            continue
        parts = path.split(" > ")
        for depth in range(1, len(parts) + 1):
            sub = " > ".join(parts[:depth])[:500]
            parent = " > ".join(parts[: depth - 1]) or None
            wanted.setdefault(sub, (parts[depth - 1][:255], parent))
    if not wanted:
        return
    rows = [
        {"id": new_id(), "workspace_id": workspace_id, "path": path, "name": name,
         "parent_path": parent}
        for path, (name, parent) in wanted.items()
    ]  # fmt: skip
    statement = insert_ignore(session, Category.__table__, ["workspace_id", "path"])
    for start in range(0, len(rows), CHUNK):
        await session.execute(statement, rows[start : start + CHUNK])


async def ensure_location(session: AsyncSession, workspace_id: str, code: str) -> str:
    """The id of location ``code``; the default online location is created on first use."""
    found = await session.scalar(
        select(Location.id).where(Location.workspace_id == workspace_id, Location.code == code)
    )
    if found is not None:
        return str(found)
    if code != DEFAULT_LOCATION:
        raise FeedError(f"no location with code {code!r}; create the store first")
    location = Location(workspace_id=workspace_id, code=code, name="Online stock", kind="warehouse")
    session.add(location)
    await session.flush()
    return location.id


async def write_stock(
    session: AsyncSession,
    workspace_id: str,
    levels: Sequence[tuple[str, str, int]],
    revision: int,
) -> None:
    """Set absolute quantities: (location id, variant id, quantity), set-based."""
    stamp = now()
    rows = [
        {"id": new_id(), "workspace_id": workspace_id, "location_id": loc, "variant_id": var,
         "quantity": qty, "reserved": 0, "revision": revision, "updated_at": stamp}
        for loc, var, qty in levels
    ]  # fmt: skip
    statement = upsert(
        session, S, ["location_id", "variant_id"], ["quantity", "revision", "updated_at"]
    )
    for start in range(0, len(rows), CHUNK):
        await session.execute(statement, rows[start : start + CHUNK])


async def _apply_stock_feed(
    session: AsyncSession,
    workspace_id: str,
    parsed: ParseResult,
    report: ImportReport,
    revision: int,
) -> None:
    variants = {
        row.external_id: row.id
        for row in await session.execute(
            select(V.c.external_id, V.c.id).where(V.c.workspace_id == workspace_id)
        )
    }
    locations = {
        row.code: row.id
        for row in await session.execute(
            select(Location.code, Location.id).where(Location.workspace_id == workspace_id)
        )
    }
    levels: dict[tuple[str, str], int] = {}
    for row, store, item, count in parsed.stock:
        if store not in locations:
            report.rejected.append(
                RowError(row, f"no store with code {store!r}", item, "store_code")
            )
        elif item not in variants:
            report.rejected.append(RowError(row, "no variant with this id", item, "id"))
        else:
            levels[(locations[store], variants[item])] = count
    await write_stock(
        session, workspace_id, [(loc, var, qty) for (loc, var), qty in levels.items()], revision
    )
    report.stock_levels_written = len(levels)


async def _apply_translations(
    session: AsyncSession,
    workspace_id: str,
    products: Sequence[ProductIn],
    language: str,
    report: ImportReport,
    revision: int,
) -> None:
    """Store each product's title and description under ``translations[language]``."""
    current = {
        row.external_id: row
        for row in await session.execute(
            select(P.c.external_id, P.c.id, P.c.translations).where(
                P.c.workspace_id == workspace_id
            )
        )
    }
    stamp = now()
    updates = []
    for product in products:
        row = current.get(product.external_id)
        if row is None:
            report.rejected.append(
                RowError(product.row, "no product with this id to translate", product.external_id)
            )
            continue
        text = {"title": product.title, "description": product.description}
        if (row.translations or {}).get(language) == text:
            report.products_unchanged += 1
            continue
        translations = {**(row.translations or {}), language: text}
        updates.append(
            {
                "b_id": row.id,
                "translations": translations,
                "revision": revision,
                "updated_at": stamp,
            }
        )
        report.products_updated += 1
    await _update(session, P, updates, _Quiet())


async def _record(
    session: AsyncSession, workspace_id: str, report: ImportReport, options: ImportOptions
) -> None:
    row = CatalogImport(
        workspace_id=workspace_id,
        format=report.format,
        filename=options.filename,
        mode=report.mode,
        rows=report.rows,
        products_created=report.products_created,
        products_updated=report.products_updated,
        products_unchanged=report.products_unchanged,
        products_unpublished=report.products_unpublished,
        variants_written=report.variants_created + report.variants_updated,
        rejected_rows=len(report.rejected),
        errors=[e.to_json() for e in report.rejected[:200]],
        finished_at=now(),
    )
    session.add(row)
    await session.flush()
    report.id = row.id
