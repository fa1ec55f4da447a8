"""Stock reservations (SQLite and PostgreSQL): checkout holds the stock, a failed or expired
payment and a cancelled order give it back, a new link holds it again, shipping takes it off
the shelf; concurrent checkouts of the last units never oversell."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from toonbank.context import Context
from toonbank.models import Contact, StockReservation

from .test_api import auth
from .test_orders_api import shop
from .test_payments_sandbox import pay, pending_order


async def stock(client: httpx.AsyncClient, key: str, variant_id: str) -> dict[str, int]:
    body = await client.get(f"/api/v1/catalog/variants/{variant_id}/stock", headers=auth(key))
    levels: list[dict[str, Any]] = body.json()["stock"]
    return {k: sum(int(x[k]) for x in levels) for k in ("quantity", "reserved", "available")}


async def test_hold_release_hold_again_and_ship(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await pending_order(app_client, ctx, workspace, quantity=3)
    oid, variant = s["order"]["id"], s["variants"]["DRS-1-S"]
    assert await stock(app_client, key, variant) == {"quantity": 4, "reserved": 3, "available": 1}
    # Another customer sees only what is not held.
    cart = (await app_client.post(f"/api/v1/contacts/{s['contact_id']}/cart",
                                  headers=auth(key))).json()  # fmt: skip
    two = await app_client.put(f"/api/v1/carts/{cart['id']}/lines/{variant}",
                               json={"quantity": 2}, headers=auth(key))  # fmt: skip
    assert two.status_code == 409 and "only 1 left" in two.json()["detail"]

    first = (await app_client.post(f"/api/v1/orders/{oid}/payments", json={"send": False},
                                   headers=auth(key))).json()  # fmt: skip
    await pay(app_client, first["url"], action="fail")
    assert await stock(app_client, key, variant) == {"quantity": 4, "reserved": 0, "available": 4}
    second = (await app_client.post(f"/api/v1/orders/{oid}/payments", json={"send": False},
                                    headers=auth(key))).json()  # fmt: skip
    assert await stock(app_client, key, variant) == {"quantity": 4, "reserved": 3, "available": 1}
    await pay(app_client, second["url"])
    shipped = await app_client.post(f"/api/v1/orders/{oid}/status", json={"status": "shipped"},
                                    headers=auth(key))  # fmt: skip
    assert shipped.status_code == 200, shipped.text
    assert await stock(app_client, key, variant) == {"quantity": 1, "reserved": 0, "available": 1}
    delivered = await app_client.post(f"/api/v1/orders/{oid}/status",
                                      json={"status": "delivered"}, headers=auth(key))  # fmt: skip
    assert delivered.status_code == 200  # consumed once, not again
    assert await stock(app_client, key, variant) == {"quantity": 1, "reserved": 0, "available": 1}
    async with ctx.db.session() as session:
        statuses = (await session.execute(
            select(StockReservation.status).order_by(StockReservation.created_at)
        )).scalars().all()  # fmt: skip
    assert sorted(statuses) == ["consumed", "released"]


async def _status(client: httpx.AsyncClient, key: str, oid: str, **body: Any) -> dict[str, Any]:
    answer = await client.post(f"/api/v1/orders/{oid}/status", json=body, headers=auth(key))
    assert answer.status_code == 200, answer.text
    order: dict[str, Any] = answer.json()
    return order


async def _shipped(
    client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], quantity: int
) -> tuple[str, str]:
    """A paid, shipped order of ``quantity`` units of a variant with 4 in stock."""
    s = await pending_order(client, ctx, workspace, quantity=quantity)
    oid, variant = s["order"]["id"], s["variants"]["DRS-1-S"]
    link = (await client.post(f"/api/v1/orders/{oid}/payments", json={"send": False},
                              headers=auth(workspace["api_key"]))).json()  # fmt: skip
    await pay(client, link["url"])
    await _status(client, workspace["api_key"], oid, status="shipped")
    return oid, variant


async def test_a_return_puts_the_units_back_once(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    oid, variant = await _shipped(app_client, ctx, workspace, quantity=3)
    assert await stock(app_client, key, variant) == {"quantity": 1, "reserved": 0, "available": 1}
    order = await _status(app_client, key, oid, status="returned")
    assert order["status"] == "returned"
    assert order["events"][-1]["data"]["restocked"] == 3
    assert await stock(app_client, key, variant) == {"quantity": 4, "reserved": 0, "available": 4}
    await _status(app_client, key, oid, status="returned")  # repeated: no second restock
    assert await stock(app_client, key, variant) == {"quantity": 4, "reserved": 0, "available": 4}
    async with ctx.db.session() as session:
        statuses = (await session.execute(select(StockReservation.status))).scalars().all()
    assert statuses == ["restocked"]


async def test_a_return_that_cannot_be_resold_stays_off_the_shelf(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    oid, variant = await _shipped(app_client, ctx, workspace, quantity=2)
    order = await _status(app_client, key, oid, status="returned", restock=False, note="damaged")
    assert order["events"][-1]["data"]["restocked"] == 0
    assert await stock(app_client, key, variant) == {"quantity": 2, "reserved": 0, "available": 2}


async def test_new_link_refused_when_the_stock_is_gone(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await pending_order(app_client, ctx, workspace, quantity=3)
    oid, variant = s["order"]["id"], s["variants"]["DRS-1-S"]
    cancelled = await app_client.post(f"/api/v1/orders/{oid}/status",
                                      json={"status": "cancelled"}, headers=auth(key))  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    assert await stock(app_client, key, variant) == {"quantity": 4, "reserved": 0, "available": 4}

    other = await pending_order(app_client, ctx, workspace, quantity=2)
    link = (await app_client.post(f"/api/v1/orders/{other['order']['id']}/payments",
                                  json={"send": False}, headers=auth(key))).json()  # fmt: skip
    await pay(app_client, link["url"], action="fail")  # its 2 go back ...
    third = await pending_order(app_client, ctx, workspace, quantity=3)  # ... and 3 are taken
    assert third["order"]["status"] == "pending"
    refused = await app_client.post(f"/api/v1/orders/{other['order']['id']}/payments",
                                    json={"send": False}, headers=auth(key))  # fmt: skip
    assert refused.status_code == 409 and refused.json()["error"] == "out_of_stock"
    assert await stock(app_client, key, variant) == {"quantity": 4, "reserved": 3, "available": 1}


async def test_concurrent_checkouts_never_oversell(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await shop(app_client, ctx, workspace)
    variant = s["variants"]["DRS-1-S"]
    carts = []
    for n in range(6):
        async with ctx.db.uow() as uow:
            contact = Contact(workspace_id=workspace["id"], display_name=f"Buyer {n}")
            uow.session.add(contact)
            await uow.session.flush()
            contact_id = contact.id
        cart = (await app_client.post(f"/api/v1/contacts/{contact_id}/cart",
                                      headers=auth(key))).json()  # fmt: skip
        base = f"/api/v1/carts/{cart['id']}"
        qty = 1 if n < 4 else 2
        line = await app_client.put(f"{base}/lines/{variant}", json={"quantity": qty},
                                    headers=auth(key))  # fmt: skip
        assert line.status_code == 200, line.text
        await app_client.patch(base, json={"shipping_method": "postnl", "country": "NL"},
                               headers=auth(key))  # fmt: skip
        carts.append((base, qty))
    results = await asyncio.gather(
        *(app_client.post(f"{base}/checkout", headers=auth(key)) for base, _ in carts)
    )
    sold = sum(qty for (_, qty), r in zip(carts, results, strict=True) if r.status_code == 200)
    refused = [r for r in results if r.status_code != 200]
    assert sold == 4 and refused  # 8 wanted, 4 there
    assert all(r.status_code == 409 and r.json()["problems"][0]["code"] == "out_of_stock"
               for r in refused)  # fmt: skip
    levels = await stock(app_client, key, variant)
    assert levels["reserved"] == sold and levels["available"] == 4 - sold >= 0
    async with ctx.db.session() as session:
        held = await session.scalar(
            select(func.sum(StockReservation.quantity)).where(StockReservation.status == "held")
        )
    assert held == sold
