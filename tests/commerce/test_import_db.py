"""Importing into the database: incremental re-import, unpublishing, stock per location,
translations, and workspace isolation (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from toonbank.commerce.imports import ImportOptions, ImportRefused, import_feed
from toonbank.commerce.stores import StoreIn, upsert_store
from toonbank.context import Context
from toonbank.models import CatalogImport, Location, Product, ProductVariant, StockLevel
from toonbank.workspaces.service import create_workspace

from .helpers import gmc_tsv, item

FIXTURES = Path(__file__).parent / "fixtures"


async def products(ctx: Context, workspace_id: str) -> dict[str, Product]:
    async with ctx.db.session() as session:
        rows = await session.execute(select(Product).where(Product.workspace_id == workspace_id))
        return {p.external_id: p for p in rows.scalars()}


async def variants(ctx: Context, workspace_id: str) -> dict[str, ProductVariant]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(ProductVariant).where(ProductVariant.workspace_id == workspace_id)
        )
        return {v.external_id: v for v in rows.scalars()}


async def test_fixture_import_then_identical_reimport_writes_nothing(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    with (FIXTURES / "gmc_products.tsv").open("rb") as feed:
        first = await import_feed(ctx.db, ws, feed, ImportOptions())
    assert (first.products_created, first.variants_created, len(first.rejected)) == (2, 5, 7)
    before = await products(ctx, ws)
    assert set(before) == {"DRS-1001", "TEE-2002"}
    dress_variants = await variants(ctx, ws)
    assert dress_variants["DRS-1001-RED-S"].price_minor == 8995
    assert dress_variants["DRS-1001-RED-S"].sale_price_minor == 6995
    assert dress_variants["DRS-1001-RED-S"].product_id == before["DRS-1001"].id
    with (FIXTURES / "gmc_products.tsv").open("rb") as feed:
        again = await import_feed(ctx.db, ws, feed, ImportOptions())
    assert (again.products_created, again.products_updated, again.products_unchanged) == (0, 0, 2)
    assert (again.variants_created, again.variants_updated, again.products_unpublished) == (0, 0, 0)
    after = await products(ctx, ws)
    assert {k: (p.id, p.updated_at) for k, p in after.items()} == {
        k: (p.id, p.updated_at) for k, p in before.items()
    }
    async with ctx.db.session() as session:
        logged = (await session.execute(select(CatalogImport))).scalars().all()
    assert len(logged) == 2 and logged[0].rejected_rows == 7
    assert logged[0].errors[0] == {
        "row": 7, "id": "BAD-PRICE", "field": "price", "message": "no amount in 'abc EUR'"
    }  # fmt: skip


async def test_changed_items_update_and_missing_items_unpublish(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    await import_feed(
        ctx.db,
        ws,
        gmc_tsv(
            [
                item("A-S", "Alpha dress S", group="A", colour="Red", size="S"),
                item("A-M", "Alpha dress M", group="A", colour="Red", size="M"),
                item("B", "Beta skirt", "20.00 EUR"),
                item("C", "Gamma coat", "99.00 EUR"),
            ]
        ),
        ImportOptions(),
    )
    first_products, first_variants = await products(ctx, ws), await variants(ctx, ws)
    report = await import_feed(
        ctx.db,
        ws,
        gmc_tsv(
            [
                item("A-M", "Alpha dress M", group="A", colour="Red", size="M"),
                item("A-L", "Alpha dress L", group="A", colour="Red", size="L"),
                item("B", "Beta skirt", "18.50 EUR"),
            ]
        ),
        ImportOptions(unpublish_limit=None),
    )
    assert report.products_created == 0
    assert report.products_updated == 2  # A (variants changed), B (price)
    assert report.products_unpublished == 1  # C
    # A-L is new; B's price and A-M's position (now first) changed; A-S is gone.
    assert (report.variants_created, report.variants_updated, report.variants_unpublished) == (
        1,
        2,
        1,
    )
    now_products, now_variants = await products(ctx, ws), await variants(ctx, ws)
    assert {k: p.id for k, p in now_products.items()} == {
        k: p.id for k, p in first_products.items()
    }  # nothing deleted, ids kept
    assert now_products["C"].published is False and now_products["C"].unpublished_at is not None
    assert now_variants["B"].price_minor == 1850
    assert now_variants["A-S"].published is False  # gone from the feed: unpublished, kept
    assert now_variants["A-S"].id == first_variants["A-S"].id
    assert now_variants["A-L"].published and now_variants["A-L"].product_id == now_products["A"].id
    # C comes back: the same product id, published again.
    back = await import_feed(
        ctx.db, ws, gmc_tsv([item("C", "Gamma coat", "99.00 EUR")]), ImportOptions(mode="partial")
    )
    assert back.products_updated == 1
    restored = (await products(ctx, ws))["C"]
    assert restored.published and restored.id == first_products["C"].id
    assert restored.unpublished_at is None


async def test_a_feed_that_would_empty_the_catalog_is_refused(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    rows = [item(f"P{n}", f"Product {n}") for n in range(30)]
    await import_feed(ctx.db, ws, gmc_tsv(rows), ImportOptions())
    with pytest.raises(ImportRefused, match="would unpublish 25 of 30"):
        await import_feed(ctx.db, ws, gmc_tsv(rows[:5]), ImportOptions())
    with pytest.raises(ImportRefused, match="no valid products"):
        await import_feed(
            ctx.db, ws, gmc_tsv([item("X", "", "nonsense")]), ImportOptions(unpublish_limit=0.9)
        )
    assert all(p.published for p in (await products(ctx, ws)).values())  # rolled back
    partial = await import_feed(ctx.db, ws, gmc_tsv(rows[:5]), ImportOptions(mode="partial"))
    assert partial.products_unpublished == 0
    forced = await import_feed(ctx.db, ws, gmc_tsv(rows[:5]), ImportOptions(unpublish_limit=None))
    assert forced.products_unpublished == 25


async def test_stock_per_location_and_translations(ctx: Context, workspace: dict[str, str]) -> None:
    ws = workspace["id"]
    async with ctx.db.uow() as uow:
        for code in ("AMS-01", "UTR-01"):
            await upsert_store(uow.session, ws, StoreIn(code=code, name=code))
    with (FIXTURES / "meta_catalog.csv").open("rb") as feed:
        meta = await import_feed(ctx.db, ws, feed, ImportOptions(mode="partial"))
    assert meta.stock_levels_written == 3  # quantity_to_sell_on_facebook → "online"
    with (FIXTURES / "gmc_products.tsv").open("rb") as feed:
        await import_feed(ctx.db, ws, feed, ImportOptions(mode="partial", language="nl"))
    with (FIXTURES / "gmc_local_inventory.tsv").open("rb") as feed:
        local = await import_feed(ctx.db, ws, feed, ImportOptions())
    assert local.mode == "stock" and local.stock_levels_written == 3
    assert [(e.row, e.field, e.message) for e in local.rejected] == [
        (5, "quantity", "must be a whole number of at least 0"),
        (6, "store_code", "no store with code 'NOPE-99'"),
        (7, "id", "no variant with this id"),
    ]
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Location.code, ProductVariant.external_id, StockLevel.quantity)
            .join(Location, Location.id == StockLevel.location_id)
            .join(ProductVariant, ProductVariant.id == StockLevel.variant_id)
            .where(StockLevel.workspace_id == ws)
        )
        levels = {(code, external): quantity for code, external, quantity in rows}
    assert levels == {
        ("online", "SNK-300-WHT-40"): 12,
        ("online", "SNK-300-WHT-41"): 3,
        ("online", "SNK-300-BLK-41"): 0,
        ("AMS-01", "DRS-1001-RED-S"): 3,
        ("AMS-01", "DRS-1001-RED-M"): 0,
        ("UTR-01", "DRS-1001-RED-S"): 1,
    }
    english = gmc_tsv(
        [item("DRS-1001-RED-S", "Linen midi dress red S", group="DRS-1001",
              description="Airy midi dress in 100% linen.")]
    )  # fmt: skip
    translated = await import_feed(
        ctx.db, ws, english, ImportOptions(mode="translation", language="en")
    )
    assert translated.products_updated == 1
    dress = (await products(ctx, ws))["DRS-1001"]
    assert dress.language == "nl" and dress.title == "Linnen midi-jurk"
    assert dress.translations == {
        "en": {"title": "Linen midi dress red S", "description": "Airy midi dress in 100% linen."}
    }
    unknown = await import_feed(
        ctx.db,
        ws,
        gmc_tsv([item("NOPE", "Nope")]),
        ImportOptions(mode="translation", language="en"),
    )
    assert [e.message for e in unknown.rejected] == ["no product with this id to translate"]


async def test_workspaces_do_not_share_catalog_rows(
    ctx: Context, workspace: dict[str, str]
) -> None:
    async with ctx.db.uow() as uow:
        other, _key = await create_workspace(uow.session, ctx.secret_box, ctx.channels, "other")
    feed = [item("SAME-ID", "Shared id"), item("ONLY-A", "Only in A")]
    await import_feed(ctx.db, workspace["id"], gmc_tsv(feed), ImportOptions())
    await import_feed(ctx.db, other.id, gmc_tsv(feed[:1]), ImportOptions())
    mine, theirs = await products(ctx, workspace["id"]), await products(ctx, other.id)
    assert set(mine) == {"SAME-ID", "ONLY-A"} and set(theirs) == {"SAME-ID"}
    assert mine["SAME-ID"].id != theirs["SAME-ID"].id
    # A full import in the other workspace never unpublishes this one's products.
    await import_feed(
        ctx.db, other.id, gmc_tsv([item("X", "X")]), ImportOptions(unpublish_limit=None)
    )
    assert all(p.published for p in (await products(ctx, workspace["id"])).values())
