"""The sandbox payment provider end to end (SQLite and PostgreSQL): link in the conversation,
the TEST MODE page with its CSRF guard, paid orders, expiry, out-of-order reports, partial and
full refunds, and "try at home" (authorise, capture what is kept, release the rest)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from toonbank.commerce.payments import service
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import Payment

from .test_api import auth
from .test_orders_api import shop


async def pending_order(
    client: httpx.AsyncClient, ctx: Context, ws: dict[str, str], quantity: int = 2
) -> dict[str, Any]:
    key = ws["api_key"]
    s = await shop(client, ctx, ws)
    cart = (await client.post(f"/api/v1/contacts/{s['contact_id']}/cart", headers=auth(key))).json()
    base = f"/api/v1/carts/{cart['id']}"
    await client.put(
        f"{base}/lines/{s['variants']['DRS-1-S']}", json={"quantity": quantity}, headers=auth(key)
    )
    await client.patch(base, json={"shipping_method": "postnl", "country": "NL"}, headers=auth(key))
    order = await client.post(f"{base}/checkout", headers=auth(key))
    assert order.status_code == 200, order.text
    return {**s, "order": order.json()}


async def pay(client: httpx.AsyncClient, url: str, action: str = "pay") -> httpx.Response:
    path = httpx.URL(url).path
    page = await client.get(path)
    assert page.status_code == 200
    [nonce] = re.findall(r'name=csrf value="([^"]+)"', page.text)
    return await client.post(path, data={"action": action, "csrf": nonce})


async def outbound(client: httpx.AsyncClient, key: str, conversation_id: str) -> list[Any]:
    messages = (
        await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=auth(key))
    ).json()
    return [m["content"] for m in messages if m["direction"] == "out"]


async def test_link_page_and_payment(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    created = await app_client.post(f"/api/v1/orders/{oid}/payments", json={}, headers=auth(key))
    assert created.status_code == 200, created.text
    payment = created.json()
    assert payment["status"] == "open" and payment["amount"] == s["order"]["total"]
    assert payment["url"].startswith("http://127.0.0.1:8000/pay/")
    [link] = [c for c in await outbound(app_client, key, s["conversation_id"])
              if c["type"] == "payment_link"]  # fmt: skip
    assert link["url"] == payment["url"] and link["amount"] == 14485  # 2 x 69.95 + 4.95
    path = httpx.URL(payment["url"]).path

    page = await app_client.get(path)
    assert "TEST MODE" in page.text and s["order"]["number"] in page.text
    assert "144.85 EUR" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    # A cross-site post carries no cookie (SameSite=Strict) and is refused.
    [nonce] = re.findall(r'name=csrf value="([^"]+)"', page.text)
    app_client.cookies.clear()
    forged = await app_client.post(path, data={"action": "pay", "csrf": nonce})
    assert forged.status_code == 403
    assert (await app_client.get(f"/api/v1/orders/{oid}", headers=auth(key))).json()[
        "status"
    ] == "pending"
    assert (await app_client.get("/pay/not-a-token")).status_code == 404

    paid = await pay(app_client, payment["url"])
    assert paid.status_code == 303 and paid.headers["location"].endswith("/done")
    assert "payment was received" in (await app_client.get(paid.headers["location"])).text
    order = (await app_client.get(f"/api/v1/orders/{oid}", headers=auth(key))).json()
    assert order["status"] == "paid" and order["paid_at"]
    assert [e["kind"] for e in order["events"]] == ["created", "payment_link", "payment", "status"]
    texts = [c.get("text", "") for c in await outbound(app_client, key, s["conversation_id"])]
    assert any("received your payment" in t for t in texts)
    again = await app_client.get(path)
    assert "This payment is paid" in again.text and "<form" not in again.text

    # Late and repeated reports never move a payment backwards.
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Payment, payment["id"])
        assert row is not None
        assert not await service.apply_status(ctx, uow, row, "open", actor="test")
        assert not await service.apply_status(ctx, uow, row, "failed", actor="test")
        assert not await service.apply_status(ctx, uow, row, "paid", actor="test")
    again_link = await app_client.post(f"/api/v1/orders/{oid}/payments", json={},
                                       headers=auth(key))  # fmt: skip
    assert again_link.status_code == 409  # the order is paid

    # Refunds: part, then the rest; never more than was paid.
    too_much = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={"amount": "200.00"},
                                     headers=auth(key))  # fmt: skip
    assert too_much.status_code == 422 and too_much.json()["error"] == "invalid_amount"
    part = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={"amount": "10.00"},
                                 headers=auth(key))  # fmt: skip
    assert part.status_code == 200, part.text
    assert part.json()["status"] == "paid" and part.json()["refunded"]["amount"] == "10.00"
    rest = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={}, headers=auth(key))
    assert rest.json()["status"] == "refunded" and rest.json()["refunded"] == s["order"]["total"]
    kinds = [e["kind"] for e in rest.json()["events"]]
    assert kinds.count("refund") == 2 and kinds[-1] == "status"


async def test_failed_then_expired_link(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    first = (await app_client.post(f"/api/v1/orders/{oid}/payments", json={"send": False},
                                   headers=auth(key))).json()  # fmt: skip
    failed = await pay(app_client, first["url"], action="fail")
    assert "payment failed" in (await app_client.get(failed.headers["location"])).text
    soon = {"expires_in_minutes": 5}
    second = (
        await app_client.post(f"/api/v1/orders/{oid}/payments", json=soon, headers=auth(key))
    ).json()
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Payment, second["id"])
        assert row is not None
        row.expires_at = now() - timedelta(seconds=1)
    page = await app_client.get(httpx.URL(second["url"]).path)
    assert "This payment is expired" in page.text
    listed = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert [p["status"] for p in listed] == ["failed", "expired"]
    order = (await app_client.get(f"/api/v1/orders/{oid}", headers=auth(key))).json()
    assert order["status"] == "pending"


async def test_try_at_home_captures_kept_items_and_releases_the_rest(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await pending_order(app_client, ctx, workspace, quantity=3)
    oid, variant = s["order"]["id"], s["variants"]["DRS-1-S"]
    assert s["order"]["total"]["amount"] == "209.85"  # 3 x 69.95, free shipping over 200
    manual = {"capture": "manual"}
    payment = (
        await app_client.post(f"/api/v1/orders/{oid}/payments", json=manual, headers=auth(key))
    ).json()
    page = await app_client.get(httpx.URL(payment["url"]).path)
    assert "Authorise 209.85 EUR" in page.text
    await pay(app_client, payment["url"])
    order = (await app_client.get(f"/api/v1/orders/{oid}", headers=auth(key))).json()
    assert order["status"] == "paid"
    [held] = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert held["status"] == "authorized" and held["authorized"]["amount"] == "209.85"
    assert held["captured"]["amount"] == "0.00"
    no_refund = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={},
                                      headers=auth(key))  # fmt: skip
    assert no_refund.status_code == 422  # nothing captured yet
    bad = await app_client.post(f"/api/v1/orders/{oid}/capture",
                                json={"kept": [{"variant_id": variant, "quantity": 4}]},
                                headers=auth(key))  # fmt: skip
    assert bad.status_code == 422
    kept = await app_client.post(f"/api/v1/orders/{oid}/capture",
                                 json={"kept": [{"variant_id": variant, "quantity": 1}]},
                                 headers=auth(key))  # fmt: skip
    assert kept.status_code == 200, kept.text
    [captured] = kept.json()["payments"]
    assert captured["status"] == "paid" and captured["captured"]["amount"] == "69.95"
    [event] = [e for e in kept.json()["events"] if e["kind"] == "capture"]
    assert event["data"]["released"] == {"amount": "139.90", "currency": "EUR"}
    twice = await app_client.post(f"/api/v1/orders/{oid}/capture", json={"kept": []},
                                  headers=auth(key))  # fmt: skip
    assert twice.status_code == 409  # nothing authorised any more
    refund = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={}, headers=auth(key))
    assert refund.json()["status"] == "refunded" and refund.json()["refunded"]["amount"] == "69.95"
