"""Stripe through the official SDK against a local fake of the Stripe API that answers with
Stripe's recorded fixtures (../shared/reference/payloads/stripe_*): Checkout Session creation,
webhook signatures (construct_event, tolerance), duplicate and out-of-order events, partial and
full refunds, and manual capture (authorise, capture the kept part, release the rest)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from toonbank.commerce.money import Money
from toonbank.commerce.payments import service, stripe_provider
from toonbank.context import Context
from toonbank.models import Order

from .test_api import auth
from .test_payments_sandbox import outbound, pending_order

PAYLOADS = Path(__file__).parent / "fixtures" / "stripe"  # copies of ../shared/reference/payloads
WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data


class FakeStripe:
    """The few Stripe API endpoints used, with the recorded checkout.session as the answer."""

    def __init__(self) -> None:
        self.session = recorded("stripe_checkout_session_object.json")
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.intent = {"id": self.session["payment_intent"], "object": "payment_intent",
                       "status": "requires_payment_method", "amount_received": 0,
                       "currency": "eur", "amount": 0}  # fmt: skip
        self.refunded = 0
        self.refund_keys: dict[str, dict[str, Any]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        form = dict(await request.post()) if request.method == "POST" else dict(request.query)
        self.requests.append((request.method, request.path, {k: str(v) for k, v in form.items()}))
        assert request.headers["authorization"] == "Bearer sk_test_fake_key"
        path = request.path
        if path == "/v1/checkout/sessions" and request.method == "POST":
            self.session.update(expires_at=int(form["expires_at"]),
                                amount_total=int(form["line_items[0][price_data][unit_amount]"]),
                                currency=form["line_items[0][price_data][currency]"])  # fmt: skip
            self.intent["amount"] = self.session["amount_total"]
            return web.json_response(self.session)
        if path == f"/v1/checkout/sessions/{self.session['id']}":
            body = copy.deepcopy(self.session)
            if "payment_intent" in request.query.get("expand[0]", ""):
                body["payment_intent"] = self.intent
            return web.json_response(body)
        if path == "/v1/refunds":
            key = request.headers.get("idempotency-key", "")
            if key in self.refund_keys:  # Stripe replays the first answer
                return web.json_response(self.refund_keys[key])
            amount = int(form["amount"])
            if amount > self.intent["amount_received"] - self.refunded:
                return web.json_response({"error": {"type": "invalid_request_error",
                                          "message": "Refund amount is greater than charge"}},
                                         status=400)  # fmt: skip
            self.refunded += amount
            refund = {"id": f"re_test_{len(self.requests)}", "object": "refund",
                      "status": "succeeded", "amount": amount}  # fmt: skip
            self.refund_keys[key] = refund
            return web.json_response(refund)
        intent_path = f"/v1/payment_intents/{self.intent['id']}"
        if path == f"{intent_path}/capture" and self.intent["status"] == "requires_capture":
            # Stripe releases whatever is not captured
            self.intent.update(status="succeeded",
                               amount_received=int(form.get("amount_to_capture",
                                                            self.intent["amount"])))  # fmt: skip
            self.session["payment_status"] = "paid"
            return web.json_response(self.intent)
        if path == f"{intent_path}/cancel" and self.intent["status"] == "requires_capture":
            self.intent.update(status="canceled")
            return web.json_response(self.intent)
        if path == f"/v1/checkout/sessions/{self.session['id']}/expire":
            if self.session["status"] != "open":
                error = {"type": "invalid_request_error", "message": "Session is not open"}
                return web.json_response({"error": error}, status=400)
            self.session["status"] = "expired"
            return web.json_response(self.session)
        return web.json_response({"error": {"message": "not faked"}}, status=404)

    def pay(self) -> None:
        self.session.update(status="complete", payment_status="paid")
        self.intent.update(status="succeeded", amount_received=self.intent["amount"])

    def authorize(self) -> None:
        self.session.update(status="complete", payment_status="unpaid")
        self.intent.update(status="requires_capture")

    def posts(self, path: str) -> list[dict[str, str]]:
        return [form for method, p, form in self.requests if method == "POST" and p == path]


@pytest.fixture(name="fake_stripe")
async def fake_stripe_fixture(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeStripe]:
    fake = FakeStripe()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setattr(stripe_provider, "API_BASE", f"http://127.0.0.1:{port}")
    yield fake
    await runner.cleanup()


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[
    bytes, dict[str, str]
]:  # fmt: skip
    body = json.dumps(event).encode()
    stamp = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"stripe-signature": f"t={stamp},v1={mac}", "content-type": "application/json"}


def event(fake: FakeStripe, event_id: str, kind: str) -> dict[str, Any]:
    envelope = recorded("stripe_event_envelope_object.json")
    envelope.update(id=event_id, type=kind)
    envelope["data"]["object"] = copy.deepcopy(fake.session)
    return envelope


async def test_stripe_checkout_webhooks_and_refund(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_stripe: FakeStripe
) -> None:
    key = workspace["api_key"]
    account = await app_client.put(
        "/api/v1/payments/providers/stripe",
        json={"secret_key": "sk_test_fake_key", "webhook_secret": WEBHOOK_SECRET},
        headers=auth(key),
    )
    assert account.status_code == 200, account.text
    hook = account.json()["webhook_path"]
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    created = await app_client.post(f"/api/v1/orders/{oid}/payments", json={"provider": "stripe"},
                                    headers=auth(key))  # fmt: skip
    assert created.status_code == 200, created.text
    payment = created.json()
    assert payment["url"] == fake_stripe.session["url"]
    [(method, path, form)] = fake_stripe.requests
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert form["line_items[0][price_data][unit_amount]"] == "14485"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["payment_intent_data[capture_method]"] == "automatic"
    assert form["client_reference_id"] == payment["id"]
    contents = await outbound(app_client, key, s["conversation_id"])
    assert any(c["type"] == "payment_link" and c["url"] == payment["url"] for c in contents)

    completed = event(fake_stripe, "evt_completed_1", "checkout.session.completed")
    body, headers = signed(completed, secret="whsec_wrong_secret")
    assert (await app_client.post(hook, content=body, headers=headers)).status_code == 400
    body, headers = signed(completed, at=int(time.time()) - 301)  # outside the tolerance
    assert (await app_client.post(hook, content=body, headers=headers)).status_code == 400
    body, headers = signed(completed)
    tampered = body.replace(b"evt_completed_1", b"evt_completed_2")
    assert (await app_client.post(hook, content=tampered, headers=headers)).status_code == 400

    # "completed" is verified by fetching the session (paid); a redelivery and a late
    # "expired" event change nothing.
    fake_stripe.pay()
    assert (await app_client.post(hook, content=body, headers=headers)).status_code == 200
    order = (await app_client.get(f"/api/v1/orders/{oid}", headers=auth(key))).json()
    assert order["status"] == "paid"
    assert (await app_client.post(hook, content=body, headers=headers)).status_code == 200
    late = event(fake_stripe, "evt_expired_1", "checkout.session.expired")
    body2, headers2 = signed(late)
    assert (await app_client.post(hook, content=body2, headers=headers2)).status_code == 200
    again = (await app_client.get(f"/api/v1/orders/{oid}", headers=auth(key))).json()
    assert again["status"] == "paid"
    assert [e["kind"] for e in again["events"]].count("payment") == 1  # duplicate ignored
    [stored] = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert stored["status"] == "paid" and stored["captured"]["amount"] == "144.85"

    refund = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={"amount": "44.85"},
                                   headers=auth(key))  # fmt: skip
    assert refund.status_code == 200, refund.text
    assert fake_stripe.requests[-1][1:] == (
        "/v1/refunds",
        {"payment_intent": fake_stripe.intent["id"], "amount": "4485"},
    )
    assert refund.json()["refunded"]["amount"] == "44.85" and refund.json()["status"] == "paid"

    # A refund whose transaction rolled back after Stripe refunded (a crash before commit) is
    # asked again with the same idempotency key: Stripe replays it, nothing is refunded twice.
    with pytest.raises(RuntimeError):
        async with ctx.db.uow() as uow:
            row = await uow.session.get(Order, oid)
            assert row is not None
            await service.refund(ctx, uow, row, Money.of("10.00", "EUR"), actor="test")
            raise RuntimeError("crash before commit")
    assert fake_stripe.refunded == 5485
    again = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={"amount": "10.00"},
                                  headers=auth(key))  # fmt: skip
    assert again.status_code == 200 and again.json()["refunded"]["amount"] == "54.85"
    assert fake_stripe.refunded == 5485 and len(fake_stripe.refund_keys) == 2


async def test_webhook_for_unknown_account_is_404(app_client: httpx.AsyncClient) -> None:
    body, headers = signed({"id": "evt_x", "type": "checkout.session.completed"})
    response = await app_client.post(
        "/webhooks/payments/stripe/nope", content=body, headers=headers
    )
    assert response.status_code == 404


async def connect(client: httpx.AsyncClient, key: str) -> str:
    account = await client.put(
        "/api/v1/payments/providers/stripe",
        json={"secret_key": "sk_test_fake_key", "webhook_secret": WEBHOOK_SECRET},
        headers=auth(key),
    )
    assert account.status_code == 200, account.text
    path: str = account.json()["webhook_path"]
    return path


async def test_stripe_manual_capture_keeps_part_and_releases_the_rest(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_stripe: FakeStripe
) -> None:
    key = workspace["api_key"]
    hook = await connect(app_client, key)
    s = await pending_order(app_client, ctx, workspace, quantity=3)
    oid, variant = s["order"]["id"], s["variants"]["DRS-1-S"]
    created = await app_client.post(f"/api/v1/orders/{oid}/payments",
                                    json={"provider": "stripe", "capture": "manual"},
                                    headers=auth(key))  # fmt: skip
    assert created.status_code == 200, created.text
    [form] = fake_stripe.posts("/v1/checkout/sessions")
    assert form["payment_intent_data[capture_method]"] == "manual"
    assert form["line_items[0][price_data][unit_amount]"] == "20985"

    fake_stripe.authorize()
    body, headers = signed(event(fake_stripe, "evt_auth_1", "checkout.session.completed"))
    assert (await app_client.post(hook, content=body, headers=headers)).status_code == 200
    [held] = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert held["status"] == "authorized" and held["authorized"]["amount"] == "209.85"
    assert held["captured"]["amount"] == "0.00"
    too_early = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={},
                                      headers=auth(key))  # fmt: skip
    assert too_early.status_code == 422  # nothing captured, nothing to refund

    kept = await app_client.post(f"/api/v1/orders/{oid}/capture",
                                 json={"kept": [{"variant_id": variant, "quantity": 2}]},
                                 headers=auth(key))  # fmt: skip
    assert kept.status_code == 200, kept.text
    intent = fake_stripe.intent["id"]
    assert fake_stripe.posts(f"/v1/payment_intents/{intent}/capture") == [
        {"amount_to_capture": "13990"}  # 2 x 69.95; shipping was free over 200
    ]
    assert fake_stripe.posts(f"/v1/payment_intents/{intent}/cancel") == []
    [paid] = kept.json()["payments"]
    assert paid["status"] == "paid" and paid["captured"]["amount"] == "139.90"
    [capture] = [e for e in kept.json()["events"] if e["kind"] == "capture"]
    assert capture["data"]["released"] == {"amount": "69.95", "currency": "EUR"}
    # Stripe's late "completed" redelivery: fetched, already paid, nothing changes.
    body, headers = signed(event(fake_stripe, "evt_auth_2", "checkout.session.completed"))
    assert (await app_client.post(hook, content=body, headers=headers)).status_code == 200

    part = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={"amount": "39.90"},
                                 headers=auth(key))  # fmt: skip
    assert part.status_code == 200 and part.json()["status"] == "paid"
    over = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={"amount": "100.01"},
                                 headers=auth(key))  # fmt: skip
    assert over.status_code == 422  # 100.00 is left
    rest = await app_client.post(f"/api/v1/orders/{oid}/refunds", json={}, headers=auth(key))
    assert rest.json()["status"] == "refunded" and rest.json()["refunded"]["amount"] == "139.90"
    assert [f["amount"] for f in fake_stripe.posts("/v1/refunds")] == ["3990", "10000"]
    assert fake_stripe.refunded == fake_stripe.intent["amount_received"] == 13990


async def test_stripe_nothing_kept_cancels_the_payment_intent(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_stripe: FakeStripe
) -> None:
    key = workspace["api_key"]
    hook = await connect(app_client, key)
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    manual = {"provider": "stripe", "capture": "manual"}
    await app_client.post(f"/api/v1/orders/{oid}/payments", json=manual, headers=auth(key))
    fake_stripe.authorize()
    body, headers = signed(event(fake_stripe, "evt_auth_9", "checkout.session.completed"))
    await app_client.post(hook, content=body, headers=headers)
    none = await app_client.post(f"/api/v1/orders/{oid}/capture", json={"kept": []},
                                 headers=auth(key))  # fmt: skip
    assert none.status_code == 200, none.text
    assert none.json()["status"] == "cancelled"
    intent = fake_stripe.intent["id"]
    assert len(fake_stripe.posts(f"/v1/payment_intents/{intent}/cancel")) == 1
    assert fake_stripe.posts(f"/v1/payment_intents/{intent}/capture") == []
    assert fake_stripe.intent["status"] == "canceled"
