"""The assistant never states a price, stock or order fact it did not read at that moment: the
tests change the shop's data between turns and check the answers follow (both databases)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from toonbank.assistant.convtests.runner import Outcome, Runner
from toonbank.assistant.convtests.spec import Conversation
from toonbank.channels.render import format_money
from toonbank.commerce.catalog import StockUpdate, set_stock
from toonbank.commerce.state import bump_revision
from toonbank.context import Context
from toonbank.demo import ensure_demo
from toonbank.models import Conversation as ConversationRow
from toonbank.models import Location, Product, ProductVariant

pytestmark = pytest.mark.timeout(600)


async def talk(runner: Runner, user: str, *turns: dict[str, Any]) -> Outcome:
    conversation = Conversation.model_validate({"name": "facts", "user": user, "turns": turns})
    outcome = await runner.run(conversation)
    assert outcome.passed, outcome.to_json()
    return outcome


def said(outcome: Outcome, turn: int = -1) -> str:
    return "\n".join(outcome.turns[turn].replies)


async def focused_variant(ctx: Context, workspace_id: str) -> ProductVariant:
    """The blue size-50 variant of the product the customer is looking at."""
    async with ctx.db.session() as session:
        states = (await session.execute(select(ConversationRow.bot_state))).scalars()
        focus = next(s["focus"] for s in states if s and s.get("focus"))
        variant = await session.scalar(
            select(ProductVariant).where(
                ProductVariant.workspace_id == workspace_id,
                ProductVariant.product_id == focus,
                ProductVariant.colour == "Blue",
                ProductVariant.size == "50",
            )
        )
    assert variant is not None
    return variant


async def set_price(ctx: Context, workspace_id: str, product_id: str, minor: int) -> None:
    async with ctx.db.uow() as uow:
        revision = await bump_revision(uow.session, workspace_id)
        product = await uow.session.get(Product, product_id)
        assert product is not None
        product.revision = revision
        variants = await uow.session.execute(
            select(ProductVariant).where(ProductVariant.product_id == product_id)
        )
        for variant in variants.scalars():
            variant.price_minor, variant.sale_price_minor = minor, None


async def test_prices_and_stock_follow_the_catalog(ctx: Context) -> None:
    info = await ensure_demo(ctx)
    runner = Runner(ctx, info.workspace_id)
    first = await talk(
        runner,
        "facts-1",
        {"say": "I'm looking for a blue blazer in size 50", "expect": {"cards": {"min": 2}}},
        {"tap": "More info"},
    )
    variant = await focused_variant(ctx, info.workspace_id)
    before = format_money(variant.sale_price_minor or variant.price_minor, "EUR")
    assert f"costs {before}" in said(first) or f": {before} instead of" in said(first)

    await set_price(ctx, info.workspace_id, variant.product_id, 12345)
    after = await talk(runner, "facts-1", {"say": "how much is it?"})
    assert "costs €123.45" in said(after) and before not in said(after)
    again = await talk(
        runner, "facts-1", {"say": "blue blazer size 50", "expect": {"cards": {"min": 1}}}
    )
    assert "€123.45" in said(again)  # the carousel's price comes from the refreshed index

    async with ctx.db.uow() as uow:
        codes = (
            await uow.session.execute(
                select(Location.code).where(Location.workspace_id == info.workspace_id)
            )
        ).scalars()
        updates = [StockUpdate(location=c, quantity=0, variant_id=variant.id) for c in codes]
        written, errors = await set_stock(uow.session, info.workspace_id, updates)
        assert written == len(updates) and errors == []
    await talk(runner, "facts-1", {"tap": "More info"})
    empty = await talk(runner, "facts-1", {"say": "is it available in size 50?"})
    assert "Blue, 50 is out of stock right now." in said(empty)
    gone = await talk(runner, "facts-1", {"say": "blue blazer size 50"})
    assert "€123.45" not in said(gone)  # out of stock: no longer offered


async def test_order_answers_follow_the_order_record(ctx: Context) -> None:
    info = await ensure_demo(ctx)
    runner = Runner(ctx, info.workspace_id)
    await talk(
        runner,
        "facts-2",
        {"say": "hello"},
        {"purchase": {"search": "blazer", "colour": "blue", "size": "50"}},
    )
    pending = await talk(runner, "facts-2", {"say": "where is my order?"})
    assert "is waiting for payment" in said(pending) and "Tracking" not in said(pending)
    shipped = await talk(
        runner,
        "facts-2",
        {"order": {"status": "shipped", "carrier": "DHL", "tracking": "JD014600006281"}},
        {"say": "where is my order?"},
    )
    assert "is on its way" in said(shipped) and "JD014600006281" in said(shipped)
    delivered = await talk(
        runner, "facts-2", {"order": {"status": "delivered"}}, {"say": "where is my order?"}
    )
    assert "is delivered" in said(delivered) and "on its way" not in said(delivered)
    cancel = await talk(runner, "facts-2", {"say": "I want to cancel my order"})
    assert "can no longer be cancelled" in said(cancel)


async def test_another_customers_order_is_not_found(ctx: Context) -> None:
    info = await ensure_demo(ctx)
    runner = Runner(ctx, info.workspace_id)
    await talk(
        runner,
        "facts-3",
        {"say": "hello"},
        {"purchase": {"search": "jeans", "size": "M"}},
    )
    async with ctx.db.session() as session:
        from toonbank.models import Order

        number = await session.scalar(select(Order.number))
    assert number is not None
    other = await talk(runner, "facts-4", {"say": f"where is my order {number}?"})
    assert f"couldn't find order {number}" in said(other)
    assert "waiting for payment" not in said(other)
