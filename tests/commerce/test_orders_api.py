"""Carts, checkout and orders over REST (SQLite and PostgreSQL): prices captured in minor
units and re-checked at checkout, stock, discount codes, VAT per country, shipping, order
status history and the customer notification on their channel."""

from __future__ import annotations

from typing import Any

import httpx
from tests.helpers import api_connection, message_payload, post_signed

from toonbank.auth.service import create_api_key
from toonbank.commerce import orders
from toonbank.context import Context
from toonbank.models import Order
from toonbank.pipeline.worker import Worker

from .test_api import PRODUCT, auth, other_key

SHIPPING = {"name": "PostNL standard", "carrier": "PostNL", "countries": ["NL", "BE"],
            "price": "4.95", "free_over": "200.00", "timezone": "Europe/Amsterdam"}  # fmt: skip


async def shop(client: httpx.AsyncClient, ctx: Context, ws: dict[str, str]) -> dict[str, Any]:
    """A product with two variants, a shipping method, a discount code, NL VAT and a contact
    who wrote in on the API channel."""
    key = ws["api_key"]
    created = await client.post(
        "/api/v1/catalog/products", json={"products": [PRODUCT]}, headers=auth(key)
    )
    assert created.status_code == 200, created.text
    [product_id] = created.json()["products"].values()
    product = (await client.get(f"/api/v1/catalog/products/{product_id}", headers=auth(key))).json()
    variants = {v["external_id"]: v["id"] for v in product["variants"]}
    put = await client.put("/api/v1/shipping/methods/postnl", json=SHIPPING, headers=auth(key))
    assert put.status_code == 200, put.text
    discount = await client.put(
        "/api/v1/discounts/spring10", json={"kind": "percent", "percent": "10"}, headers=auth(key)
    )
    assert discount.status_code == 200 and discount.json()["code"] == "SPRING10"
    vat = await client.put("/api/v1/tax/rates/nl", json={"rate": "21"}, headers=auth(key))
    assert vat.json() == {"country": "NL", "rate": "21"}
    conn = await api_connection(ctx, ws["id"])
    await post_signed(client, conn.id, message_payload("m1", "cust", "hi"))
    await Worker(ctx).drain()
    [conversation] = (await client.get("/api/v1/conversations", headers=auth(key))).json()
    return {"variants": variants, "contact_id": conversation["contact_id"],
            "conversation_id": conversation["id"], "product_id": product_id}  # fmt: skip


async def test_cart_checkout_and_order_lifecycle(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await shop(app_client, ctx, workspace)
    small, medium = s["variants"]["DRS-1-S"], s["variants"]["DRS-1-M"]

    cart = (await app_client.post(f"/api/v1/contacts/{s['contact_id']}/cart",
                                  headers=auth(key))).json()  # fmt: skip
    again = await app_client.post(f"/api/v1/contacts/{s['contact_id']}/cart", headers=auth(key))
    assert again.json()["id"] == cart["id"]  # one open cart per contact
    base = f"/api/v1/carts/{cart['id']}"
    line = await app_client.put(f"{base}/lines/{small}", json={"quantity": 2}, headers=auth(key))
    assert line.status_code == 200, line.text
    body = line.json()
    assert body["lines"][0]["unit_price"] == {"amount": "69.95", "currency": "EUR"}  # sale price
    assert body["subtotal"] == {"amount": "139.90", "currency": "EUR"}
    sold_out = await app_client.put(f"{base}/lines/{medium}", json={"quantity": 1},
                                    headers=auth(key))  # fmt: skip
    assert sold_out.status_code == 409 and sold_out.json()["error"] == "out_of_stock"
    too_many = await app_client.put(f"{base}/lines/{small}", json={"quantity": 5},
                                    headers=auth(key))  # fmt: skip
    assert too_many.status_code == 409 and "only 4 left" in too_many.json()["detail"]
    bad_code = await app_client.patch(base, json={"discount_code": "NOPE"}, headers=auth(key))
    assert bad_code.status_code == 422 and bad_code.json()["error"] == "invalid_discount"
    no_ship = await app_client.post(f"{base}/checkout", headers=auth(key))
    assert no_ship.status_code == 409
    assert [p["code"] for p in no_ship.json()["problems"]] == ["no_shipping_method"]

    patched = await app_client.patch(
        base,
        json={"discount_code": "spring10", "shipping_method": "postnl",
              "shipping_address": {"name": "Ann", "street": "Damrak 1", "city": "Amsterdam",
                                   "postcode": "1012 LG", "country": "nl"}},
        headers=auth(key),
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    totals = patched.json()
    assert totals["country"] == "NL"
    assert totals["discount"]["amount"] == "13.99"  # 10 % of 139.90 = 13.99
    assert totals["shipping"]["amount"] == "4.95"  # 125.91 is under the free-over threshold
    assert totals["total"]["amount"] == "130.86"
    assert totals["tax_included"]["amount"] == "22.71"  # 130.86 x 21/121 = 22.7114...
    assert sum(int(x["discount"]["amount"].replace(".", "")) for x in totals["lines"]) == 1399

    # The price drops before checkout: refused once with the change, then accepted.
    changed = {**PRODUCT, "variants": [{**PRODUCT["variants"][0], "sale_price": "59.95"},
                                       PRODUCT["variants"][1]]}  # fmt: skip
    await app_client.post("/api/v1/catalog/products", json={"products": [changed]},
                          headers=auth(key))  # fmt: skip
    refused = await app_client.post(f"{base}/checkout", headers=auth(key))
    assert refused.status_code == 409, refused.text
    [problem] = refused.json()["problems"]
    assert problem["code"] == "price_changed" and "69.95 EUR is now 59.95 EUR" in problem["detail"]
    assert (await app_client.get(base, headers=auth(key))).json()["subtotal"]["amount"] == "119.90"
    done = await app_client.post(f"{base}/checkout", headers=auth(key))
    assert done.status_code == 200, done.text
    order = done.json()
    assert order["status"] == "pending" and order["number"].startswith("TB-")
    assert order["total"] == {"amount": "112.86", "currency": "EUR"}  # 119.90 - 11.99 + 4.95
    assert order["lines"][0]["quantity"] == 2 and order["discount_code"] == "SPRING10"
    assert [e["kind"] for e in order["events"]] == ["created"]
    closed = await app_client.put(f"{base}/lines/{small}", json={"quantity": 1},
                                  headers=auth(key))  # fmt: skip
    assert closed.status_code == 409 and closed.json()["error"] == "cart_closed"
    fresh = await app_client.post(f"/api/v1/contacts/{s['contact_id']}/cart", headers=auth(key))
    assert fresh.json()["id"] != cart["id"] and fresh.json()["lines"] == []
    uses = (await app_client.get("/api/v1/discounts", headers=auth(key))).json()
    assert uses[0]["uses"] == 1

    # Status: not shipped before it is paid; paid (by the payment), then shipped with tracking.
    oid = order["id"]
    early = await app_client.post(f"/api/v1/orders/{oid}/status", json={"status": "shipped"},
                                  headers=auth(key))  # fmt: skip
    assert early.status_code == 409 and early.json()["error"] == "invalid_transition"
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Order, oid)
        assert row is not None
        await orders.change_status(ctx, uow, row, orders.PAID, actor="test", notify=False)
    shipped = await app_client.post(
        f"/api/v1/orders/{oid}/status",
        json={"status": "shipped", "carrier": "PostNL", "tracking_number": "3SABCD1234567"},
        headers=auth(key),
    )
    assert shipped.status_code == 200, shipped.text
    detail = shipped.json()
    assert detail["status"] == "shipped" and detail["tracking_number"] == "3SABCD1234567"
    assert [(e["from"], e["to"]) for e in detail["events"]] == [
        (None, "pending"),
        ("pending", "paid"),
        ("paid", "shipped"),
    ]
    messages = (await app_client.get(f"/api/v1/conversations/{s['conversation_id']}/messages",
                                      headers=auth(key))).json()  # fmt: skip
    texts = [m["content"].get("text", "") for m in messages if m["direction"] == "out"]
    assert any("3SABCD1234567" in t and order["number"] in t for t in texts), texts
    listed = await app_client.get("/api/v1/orders?status=shipped", headers=auth(key))
    assert [o["id"] for o in listed.json()] == [oid]


async def test_other_workspaces_and_scopes(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await shop(app_client, ctx, workspace)
    cart = (await app_client.post(f"/api/v1/contacts/{s['contact_id']}/cart",
                                  headers=auth(key))).json()  # fmt: skip
    rival = await other_key(ctx)
    assert (
        await app_client.get(f"/api/v1/carts/{cart['id']}", headers=auth(rival))
    ).status_code == 404
    foreign = await app_client.post(f"/api/v1/contacts/{s['contact_id']}/cart", headers=auth(rival))
    assert foreign.status_code == 404
    # A rival's cart cannot take this workspace's variants.
    rival_shop = await shop(app_client, ctx, {"id": "", "api_key": rival} | await _ws(ctx, rival))
    rival_cart = (await app_client.post(f"/api/v1/contacts/{rival_shop['contact_id']}/cart",
                                        headers=auth(rival))).json()  # fmt: skip
    theirs = f"/api/v1/carts/{rival_cart['id']}/lines/{s['variants']['DRS-1-S']}"
    stolen = await app_client.put(theirs, json={"quantity": 1}, headers=auth(rival))
    assert stolen.status_code == 404
    assert (await app_client.get("/api/v1/discounts", headers=auth(rival))).json() == [
        {
            "code": "SPRING10",
            "kind": "percent",
            "percent": "10",
            "amount": None,
            "min_subtotal": None,
            "max_uses": None,
            "uses": 0,
            "active": True,
        }
    ]  # fmt: skip  (the rival's own code, created by shop())
    async with ctx.db.uow() as uow:
        reader = await create_api_key(uow.session, workspace["id"], ["orders:read"])
    assert (await app_client.get("/api/v1/orders", headers=auth(reader))).status_code == 200
    denied = await app_client.post(f"/api/v1/contacts/{s['contact_id']}/cart", headers=auth(reader))
    assert denied.status_code == 403


async def _ws(ctx: Context, key: str) -> dict[str, str]:
    from toonbank.auth.service import authenticate_key

    async with ctx.db.session() as session:
        principal = await authenticate_key(session, key)
    assert principal is not None
    return {"id": principal.workspace_id}
