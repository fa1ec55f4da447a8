"""``toonbank serve --demo`` seeds a believable fashion shop, once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from toonbank.commerce.demo import DEMO_TAILORING
from toonbank.commerce.search import SearchQuery
from toonbank.commerce.stores import find_stores
from toonbank.context import Context
from toonbank.demo import ensure_demo
from toonbank.models import Location, Product, ProductVariant, ShippingMethod, StockLevel


async def count(ctx: Context, model: type, workspace_id: str) -> int:
    async with ctx.db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.workspace_id == workspace_id)  # type: ignore[attr-defined]
            )
            or 0
        )


async def test_demo_shop_is_seeded_once_and_searchable(ctx: Context) -> None:
    info = await ensure_demo(ctx)
    ws = info.workspace_id
    assert await count(ctx, Product, ws) == 300 + DEMO_TAILORING
    variants = await count(ctx, ProductVariant, ws)
    assert 900 < variants < 4000
    assert await count(ctx, Location, ws) == 5  # four stores and the online warehouse
    assert await count(ctx, ShippingMethod, ws) == 4
    assert await count(ctx, StockLevel, ws) == variants * 5
    again = await ensure_demo(ctx)
    assert again.workspace_id == ws and await count(ctx, Product, ws) == 300 + DEMO_TAILORING
    blazers = await ctx.search.search(
        ws, SearchQuery(text="blazer", colours=("Blue",), sizes=("50",), language="nl")
    )
    assert blazers.total >= 2  # the documented demo: "blauwe blazer maat 50"
    dutch = await ctx.search.search(ws, SearchQuery(text="rode jurk", language="nl"))
    assert dutch.total > 0
    assert all("jurk" in hit.title for hit in dutch.hits)
    sneakers = await ctx.search.search(
        ws, SearchQuery(text="sneakers", sizes=("42",), in_stock=True)
    )
    assert sneakers.total > 0
    assert all(v.size == "42" and v.in_stock for hit in sneakers.hits for v in hit.variants)
    # A Saturday afternoon: the Dutch and Belgian stores are open.
    saturday = datetime(2025, 6, 7, 12, 0, tzinfo=UTC)
    async with ctx.db.session() as session:
        open_stores = await find_stores(session, ws, at=saturday, open_now=True)
        sunday = await find_stores(
            session, ws, at=datetime(2025, 6, 8, 12, 0, tzinfo=UTC), open_now=True
        )
    assert len(open_stores) == 4
    assert "ANT-01" not in {s["code"] for s in sunday} and len(sunday) == 3
