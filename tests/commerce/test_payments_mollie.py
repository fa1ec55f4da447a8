"""Mollie through the official SDK against a local fake of Mollie's v2 API (``mollie_fake.py``),
on SQLite and PostgreSQL: the link in the conversation, webhooks verified by fetching (forged
ids change nothing and fetch nothing), duplicates ignored, the customer back before or after
the webhook, expiry, partial and full refunds, and authorise -> partial capture -> release."""

from __future__ import annotations

from typing import Any

import httpx

from toonbank.context import Context

from .mollie_fake import API_KEY, FakeMollie, fake_mollie_fixture  # noqa: F401  (fixture)
from .test_api import auth
from .test_payments_sandbox import outbound, pending_order


async def connect(client: httpx.AsyncClient, key: str) -> str:
    bad = await client.put("/api/v1/payments/providers/mollie", json={"api_key": "sk_nope_123456"},
                           headers=auth(key))  # fmt: skip
    assert bad.status_code == 422
    account = await client.put(
        "/api/v1/payments/providers/mollie", json={"api_key": API_KEY}, headers=auth(key)
    )
    assert account.status_code == 200, account.text
    path: str = account.json()["webhook_path"]
    assert path.startswith("/webhooks/payments/mollie/")
    return path


async def link(client: httpx.AsyncClient, key: str, order_id: str, **body: Any) -> dict[str, Any]:
    created = await client.post(f"/api/v1/orders/{order_id}/payments",
                                json={"provider": "mollie", **body}, headers=auth(key))  # fmt: skip
    assert created.status_code == 200, created.text
    payment: dict[str, Any] = created.json()
    return payment


async def order_of(client: httpx.AsyncClient, key: str, order_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (
        await client.get(f"/api/v1/orders/{order_id}", headers=auth(key))
    ).json()
    return body


async def hook(client: httpx.AsyncClient, path: str, payment_id: str) -> httpx.Response:
    return await client.post(
        path, content=f"id={payment_id}".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip


async def test_mollie_link_webhooks_and_refunds(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_mollie: FakeMollie
) -> None:
    key = workspace["api_key"]
    path = await connect(app_client, key)
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    payment = await link(app_client, key, oid)
    [(method, url, sent)] = fake_mollie.requests
    assert (method, url) == ("POST", "/v2/payments")
    assert sent["amount"] == {"currency": "EUR", "value": "144.85"}
    assert sent["webhookUrl"].endswith(path) and "captureMode" not in sent
    assert (
        sent["redirectUrl"].endswith("/done") and sent["metadata"]["order"] == s["order"]["number"]
    )
    [ref] = fake_mollie.payments
    assert payment["url"] == f"https://www.mollie.com/checkout/select-method/{ref[3:]}"
    contents = await outbound(app_client, key, s["conversation_id"])
    assert any(c["type"] == "payment_link" and c["url"] == payment["url"] for c in contents)

    # Forged: an id that is not ours is ignored without even asking Mollie; junk is refused.
    assert (await hook(app_client, path, "tr_Forged123")).status_code == 200
    assert fake_mollie.gets("tr_Forged123") == 0
    junk = await app_client.post(path, content=b"id=../../etc", headers={"content-type":
                                 "application/x-www-form-urlencoded"})  # fmt: skip
    assert junk.status_code == 400
    # A webhook while still open changes nothing; Mollie's word (fetched) is what counts.
    assert (await hook(app_client, path, ref)).status_code == 200
    assert (await order_of(app_client, key, oid))["status"] == "pending"

    fake_mollie.pay(ref)
    assert (await hook(app_client, path, ref)).status_code == 200
    assert (await hook(app_client, path, ref)).status_code == 200  # duplicate
    order = await order_of(app_client, key, oid)
    assert order["status"] == "paid"
    assert [e["kind"] for e in order["events"]].count("payment") == 1
    assert fake_mollie.gets(ref) == 3  # every webhook is verified by fetching
    done = await app_client.get(f"{httpx.URL(payment['url']).path}")  # Mollie's page, not ours
    assert done.status_code == 404
    back = await app_client.get(httpx.URL(sent["redirectUrl"]).path)
    assert "payment was received" in back.text
    assert fake_mollie.gets(ref) == 3  # webhook before redirect: no need to ask again

    part = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={"amount": "44.85"},
                                 headers=auth(key))  # fmt: skip
    assert part.status_code == 200, part.text
    assert fake_mollie.requests[-1][1:] == (
        f"/v2/payments/{ref}/refunds",
        {"amount": {"currency": "EUR", "value": "44.85"}},
    )
    assert part.json()["status"] == "paid" and part.json()["refunded"]["amount"] == "44.85"
    rest = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={}, headers=auth(key))
    assert rest.status_code == 200, rest.text
    assert rest.json()["status"] == "refunded"
    assert fake_mollie.payments[ref]["amountRefunded"] == {"currency": "EUR", "value": "144.85"}
    again = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={}, headers=auth(key))
    assert again.status_code == 422  # nothing left to refund


async def test_mollie_redirect_before_webhook_and_expiry(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_mollie: FakeMollie
) -> None:
    key = workspace["api_key"]
    path = await connect(app_client, key)
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    first = await link(app_client, key, oid, send=False)
    [ref] = fake_mollie.payments
    fake_mollie.expire(ref)
    assert (await hook(app_client, path, ref)).status_code == 200
    [expired] = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert expired["id"] == first["id"] and expired["status"] == "expired"
    assert (await order_of(app_client, key, oid))["status"] == "pending"

    second = await link(app_client, key, oid, send=False)
    ref2 = next(r for r in fake_mollie.payments if r != ref)
    fake_mollie.pay(ref2)
    redirect = fake_mollie.payments[ref2]["redirectUrl"]
    back = await app_client.get(httpx.URL(redirect).path)  # the customer is faster than Mollie
    assert "payment was received" in back.text
    assert (await order_of(app_client, key, oid))["status"] == "paid"
    assert (await hook(app_client, path, ref2)).status_code == 200  # then the webhook: no-op
    order = await order_of(app_client, key, oid)
    payments = [e for e in order["events"] if e["kind"] == "payment"]
    assert [(e["data"]["payment_id"], e["data"]["to"]) for e in payments] == [
        (first["id"], "expired"),
        (second["id"], "paid"),
    ]


async def test_mollie_authorise_partial_capture_release(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_mollie: FakeMollie
) -> None:
    key = workspace["api_key"]
    path = await connect(app_client, key)
    s = await pending_order(app_client, ctx, workspace, quantity=3)
    oid, variant = s["order"]["id"], s["variants"]["DRS-1-S"]
    await link(app_client, key, oid, capture="manual")
    [ref] = fake_mollie.payments
    assert fake_mollie.requests[0][2]["captureMode"] == "manual"
    fake_mollie.authorize(ref)
    assert (await hook(app_client, path, ref)).status_code == 200
    assert (await order_of(app_client, key, oid))["status"] == "paid"
    [held] = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert held["status"] == "authorized" and held["authorized"]["amount"] == "209.85"

    kept = await app_client.post(f"/api/v1/orders/{oid}/capture",
                                 json={"kept": [{"variant_id": variant, "quantity": 1}]},
                                 headers=auth(key))  # fmt: skip
    assert kept.status_code == 200, kept.text
    calls = [(m, p, d) for m, p, d in fake_mollie.requests if m == "POST"][1:]
    assert calls == [
        ("POST", f"/v2/payments/{ref}/captures", {"amount": {"currency": "EUR", "value": "69.95"}}),
        ("POST", f"/v2/payments/{ref}/release-authorization", {}),
    ]
    assert fake_mollie.payments[ref]["status"] == "paid"
    [captured] = kept.json()["payments"]
    assert captured["status"] == "paid" and captured["captured"]["amount"] == "69.95"
    assert (await hook(app_client, path, ref)).status_code == 200  # Mollie's "paid": no change
    refund = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={}, headers=auth(key))
    assert refund.json()["status"] == "refunded" and refund.json()["refunded"]["amount"] == "69.95"


async def test_mollie_nothing_kept_releases_everything(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_mollie: FakeMollie
) -> None:
    key = workspace["api_key"]
    path = await connect(app_client, key)
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    await link(app_client, key, oid, capture="manual")
    [ref] = fake_mollie.payments
    fake_mollie.authorize(ref)
    await hook(app_client, path, ref)
    none = await app_client.post(f"/api/v1/orders/{oid}/capture", json={"kept": []},
                                 headers=auth(key))  # fmt: skip
    assert none.status_code == 200, none.text
    assert none.json()["status"] == "cancelled"
    assert fake_mollie.payments[ref]["status"] == "canceled"
    assert not any(p.endswith("/captures") for _, p, _ in fake_mollie.requests)


async def test_replaced_link_paid_anyway_is_recorded_and_stops_the_new_one(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_mollie: FakeMollie
) -> None:
    key = workspace["api_key"]
    path = await connect(app_client, key)
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    first = await link(app_client, key, oid, send=False)
    [ref1] = fake_mollie.payments
    fake_mollie.start(ref1)  # the customer is already at the bank: Mollie cannot cancel it
    second = await link(app_client, key, oid, send=False)
    ref2 = next(r for r in fake_mollie.payments if r != ref1)
    assert fake_mollie.payments[ref1]["status"] == "pending"
    fake_mollie.pay(ref1)
    assert (await hook(app_client, path, ref1)).status_code == 200
    listed = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert [(p["id"], p["status"]) for p in listed] == [
        (first["id"], "paid"),  # the money moved: recorded although the link was replaced
        (second["id"], "canceled"),
    ]
    assert fake_mollie.payments[ref2]["status"] == "canceled"  # can no longer be paid twice
    assert (await order_of(app_client, key, oid))["status"] == "paid"
