"""The demo shop is ready to buy in (VAT, a welcome code, the sandbox provider), and
``toonbank orders …`` / ``toonbank payments …`` work on its orders as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from toonbank.commerce import carts
from toonbank.commerce.payments import service
from toonbank.config import Settings
from toonbank.context import create_context
from toonbank.demo import ensure_demo
from toonbank.models import Contact, Payment, ProductVariant, StockLevel


def run(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOONBANK_DATABASE_URL": settings.database_url,
        "TOONBANK_DATA_DIR": str(tmp_path),
        "TOONBANK_SECRET_KEY": settings.secret_key or "",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "toonbank", *args],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip


async def _demo_order(settings: Settings) -> dict[str, str]:
    """A newcomer in the demo shop: one item, the welcome code, PostNL to the Netherlands."""
    ctx = create_context(settings)
    await ctx.start()
    try:
        info = await ensure_demo(ctx)
        async with ctx.db.uow() as uow:
            session = uow.session
            contact = Contact(workspace_id=info.workspace_id, display_name="Newcomer")
            session.add(contact)
            await session.flush()
            variant = await session.scalar(
                select(ProductVariant)
                .join(StockLevel, StockLevel.variant_id == ProductVariant.id)
                .where(ProductVariant.workspace_id == info.workspace_id, StockLevel.quantity > 2)
                .order_by(ProductVariant.id)
                .limit(1)
            )
            assert variant is not None
            cart = await carts.open_cart(session, info.workspace_id, contact.id)
            await carts.set_line(session, cart, variant.id, 1)
            await carts.update_cart(
                session, cart, discount_code="welcome10", shipping_method="postnl-standard",
                country="NL", fields={"discount_code", "shipping_method", "country"},
            )  # fmt: skip
            order = await carts.checkout(session, cart, actor="test")
            return {"number": order.number, "id": order.id, "total": str(order.total_minor),
                    "discount": str(order.discount_minor), "tax": str(order.tax_minor)}  # fmt: skip
    finally:
        await ctx.close()


async def _pay(settings: Settings, payment_id: str) -> None:
    ctx = create_context(settings)
    await ctx.start()
    try:
        async with ctx.db.uow() as uow:
            payment = await uow.session.get(Payment, payment_id)
            assert payment is not None
            await service.apply_status(ctx, uow, payment, "paid", actor="sandbox")
    finally:
        await ctx.close()


@pytest.mark.timeout(600)  # each CLI run is a fresh Python process
def test_demo_checkout_then_orders_and_payments_cli(settings: Settings, tmp_path: Path) -> None:
    order = asyncio.run(_demo_order(settings))
    assert int(order["discount"]) > 0 and int(order["tax"]) > 0  # WELCOME10 and NL VAT

    listed = run(settings, tmp_path, "orders", "list", "-w", "demo", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["number"] == order["number"] and row["status"] == "pending"
    table = run(settings, tmp_path, "orders", "list", "-w", "demo")
    assert order["number"] in table.stdout and "pending" in table.stdout

    nothing = run(settings, tmp_path, "payments", "refund", "TB-NOPE", "-w", "demo")
    assert nothing.returncode == 1 and "no order 'TB-NOPE'" in nothing.stderr
    link = run(settings, tmp_path, "payments", "link", order["number"].lower(), "-w", "demo",
               "--no-send")  # fmt: skip
    assert link.returncode == 0, link.stderr
    payment = json.loads(link.stdout)
    assert payment["provider"] == "sandbox" and "/pay/" in payment["url"]
    assert payment["amount"]["amount"].replace(".", "") == order["total"]

    asyncio.run(_pay(settings, payment["id"]))
    refund = run(settings, tmp_path, "payments", "refund", order["id"], "-w", "demo",
                 "--amount", "5.00")  # fmt: skip
    assert refund.returncode == 0, refund.stderr
    assert json.loads(refund.stdout)["refunded"]["amount"] == "5.00"
    shown = run(settings, tmp_path, "orders", "show", order["number"], "-w", "demo")
    detail = json.loads(shown.stdout)
    assert detail["status"] == "paid" and [p["status"] for p in detail["payments"]] == ["paid"]
    assert [e["kind"] for e in detail["events"]][-1] == "refund"
