"""Signed fulfilment webhooks (SQLite and PostgreSQL) to a real loopback HTTP receiver that
checks the signature the way the docs tell integrators to: endpoints over REST (secret sealed
at rest, shown once), order events queued with the order change (outbox: a rolled-back change
sends nothing), a receiver that fails and then recovers (backoff, every attempt logged), order
of events per order, giving up after the last attempt and retrying by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select, update

from toonbank.commerce import fulfilment, orders
from toonbank.commerce.fulfilment_delivery import deliver_due
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import FulfilmentDelivery, FulfilmentEndpoint, Order

from .test_api import auth, other_key
from .test_payments_sandbox import pay, pending_order


class Receiver:
    """A fulfilment system: verifies ``Toonbank-Signature`` independently of Toonbank's code."""

    def __init__(self) -> None:
        self.secret = ""
        self.fail_next = 0
        self.received: list[dict[str, Any]] = []
        self.rejected = 0
        self.url = ""

    def verify(self, header: str, body: bytes) -> bool:
        fields = dict(part.split("=", 1) for part in header.split(","))
        stamp = int(fields["t"])
        mac = hmac.new(self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        fresh = abs(time.time() - stamp) <= 300
        return fresh and hmac.compare_digest(mac.hexdigest(), fields["v1"])

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.verify(request.headers["toonbank-signature"], body):
            self.rejected += 1
            return web.Response(status=401)
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503, text="down for maintenance")
        self.received.append(
            {"event": request.headers["toonbank-event"],
             "delivery": request.headers["toonbank-delivery"], "body": json.loads(body)}
        )  # fmt: skip
        return web.json_response({"ok": True})


@pytest.fixture(name="receiver")
async def receiver_fixture() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/orders", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hooks/orders"
    yield receiver
    await runner.cleanup()


async def register(client: httpx.AsyncClient, key: str, receiver: Receiver, **extra: Any) -> None:
    put = await client.put("/api/v1/fulfilment/endpoints/erp", json={"url": receiver.url, **extra},
                           headers=auth(key))  # fmt: skip
    assert put.status_code == 200, put.text
    receiver.secret = put.json()["secret"]
    assert receiver.secret.startswith("tbwh_")


async def _due_now(ctx: Context) -> None:
    async with ctx.db.uow() as uow:
        await uow.session.execute(
            update(FulfilmentDelivery)
            .where(FulfilmentDelivery.status == "pending")
            .values(next_attempt_at=now() - timedelta(seconds=1))
        )


async def test_paid_order_reaches_a_receiver_that_fails_then_recovers(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], receiver: Receiver
) -> None:
    key = workspace["api_key"]
    bad = await app_client.put("/api/v1/fulfilment/endpoints/erp",
                               json={"url": "http://10.0.0.5/hook"}, headers=auth(key))  # fmt: skip
    assert bad.status_code == 422  # plain http only to this machine
    await register(app_client, key, receiver)
    listed = (await app_client.get("/api/v1/fulfilment/endpoints", headers=auth(key))).json()
    assert listed == [
        {
            "name": "erp",
            "url": receiver.url,
            "events": [],
            "active": True,
            "created_at": listed[0]["created_at"],
        }
    ]  # fmt: skip  (no secret shown)
    async with ctx.db.session() as session:
        sealed = await session.scalar(select(FulfilmentEndpoint.secret))
    assert sealed and receiver.secret not in sealed  # sealed at rest

    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    payment = (await app_client.post(f"/api/v1/orders/{oid}/payments", json={"send": False},
                                     headers=auth(key))).json()  # fmt: skip
    receiver.fail_next = 2
    ctx.settings.retry_base_seconds = 30  # the next try is clearly in the future
    await pay(app_client, payment["url"])
    assert await deliver_due(ctx) == 1  # 503
    assert await deliver_due(ctx) == 0  # backing off
    [pending] = (await app_client.get("/api/v1/fulfilment/deliveries", headers=auth(key))).json()
    assert pending["status"] == "pending" and pending["attempts"] == 1
    assert pending["last_status_code"] == 503 and pending["next_attempt_at"] is not None
    await _due_now(ctx)
    assert await deliver_due(ctx) == 1  # 503 again
    await _due_now(ctx)
    assert await deliver_due(ctx) == 1  # recovered
    assert await deliver_due(ctx) == 0
    [got] = receiver.received
    assert receiver.rejected == 0
    assert got["event"] == "order.paid" and got["body"]["type"] == "order.paid"
    assert got["delivery"] == got["body"]["id"] == pending["id"]
    order = got["body"]["data"]["order"]
    assert order["id"] == oid and order["status"] == "paid" and order["total"]["amount"] == "144.85"
    assert order["lines"][0]["sku"] == "DRS-1-S"
    [log] = (await app_client.get(f"/api/v1/fulfilment/deliveries?order_id={oid}",
                                  headers=auth(key))).json()  # fmt: skip
    assert log["status"] == "delivered" and log["attempts"] == 3 and log["delivered_at"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in log["log"]] == [
        (1, "failed", 503),
        (2, "failed", 503),
        (3, "delivered", 200),
    ]
    rival = await other_key(ctx)
    assert (await app_client.get("/api/v1/fulfilment/deliveries", headers=auth(rival))).json() == []


async def test_events_in_order_outbox_rollback_give_up_and_retry(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], receiver: Receiver
) -> None:
    key = workspace["api_key"]
    await register(app_client, key, receiver, events=["order.shipped", "order.paid"])
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    # A change that rolls back queues nothing.
    with pytest.raises(RuntimeError):
        async with ctx.db.uow() as uow:
            row = await uow.session.get(Order, oid)
            assert row is not None
            await orders.change_status(ctx, uow, row, orders.PAID, actor="test", notify=False)
            raise RuntimeError("boom")
    async with ctx.db.session() as session:
        assert (await session.scalar(select(FulfilmentDelivery.id))) is None

    async with ctx.db.uow() as uow:
        row = await uow.session.get(Order, oid)
        assert row is not None
        await orders.change_status(ctx, uow, row, orders.PAID, actor="test", notify=False)
        await orders.change_status(ctx, uow, row, orders.SHIPPED, actor="test", notify=False,
                                   tracking_number="3SABC")  # fmt: skip
        await orders.change_status(ctx, uow, row, orders.DELIVERED, actor="test", notify=False)
    receiver.fail_next = 1
    ctx.settings.retry_base_seconds = 30
    assert await deliver_due(ctx) == 1  # only order.paid is due: order.shipped waits behind it
    await _due_now(ctx)
    assert await deliver_due(ctx) == 1  # order.paid
    assert await deliver_due(ctx) == 1  # then order.shipped (delivered is not subscribed)
    assert [r["event"] for r in receiver.received] == ["order.paid", "order.shipped"]
    assert receiver.received[1]["body"]["data"]["order"]["tracking_number"] == "3SABC"

    ctx.settings.fulfilment_max_attempts = 2
    receiver.fail_next = 5
    cancel = await pending_order(app_client, ctx, workspace)
    done = await app_client.post(f"/api/v1/orders/{cancel['order']['id']}/status",
                                 json={"status": "cancelled"}, headers=auth(key))  # fmt: skip
    assert done.status_code == 200
    assert await deliver_due(ctx) == 0  # not subscribed to order.cancelled
    secret = receiver.secret
    body = {"url": receiver.url, "events": []}
    changed = await app_client.put("/api/v1/fulfilment/endpoints/erp", json=body, headers=auth(key))
    assert changed.status_code == 200 and "secret" not in changed.json()  # kept, not shown
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Order, cancel["order"]["id"])
        assert row is not None
        await orders.emit(ctx, uow, row, "order.cancelled")
    assert await deliver_due(ctx) == 1
    await _due_now(ctx)
    assert await deliver_due(ctx) == 1
    await _due_now(ctx)
    assert await deliver_due(ctx) == 0  # gave up after 2 attempts
    [failed] = (await app_client.get("/api/v1/fulfilment/deliveries?status=failed",
                                     headers=auth(key))).json()  # fmt: skip
    assert failed["event"] == "order.cancelled" and failed["attempts"] == 2
    receiver.fail_next = 0
    retry = await app_client.post(f"/api/v1/fulfilment/deliveries/{failed['id']}/retry",
                                  headers=auth(key))  # fmt: skip
    assert retry.status_code == 200
    assert await deliver_due(ctx) == 1
    assert receiver.received[-1]["event"] == "order.cancelled" and receiver.secret == secret
    gone = await app_client.delete("/api/v1/fulfilment/endpoints/erp", headers=auth(key))
    assert gone.status_code == 204
    assert (await app_client.get("/api/v1/fulfilment/endpoints", headers=auth(key))).json() == []


def test_signature_recipe() -> None:
    body = b'{"type":"order.paid"}'
    header = fulfilment.sign("tbwh_secret", body, timestamp=1_700_000_000)
    assert fulfilment.verify_signature("tbwh_secret", header, body, at=1_700_000_100)
    assert not fulfilment.verify_signature("tbwh_secret", header, body + b" ", at=1_700_000_100)
    assert not fulfilment.verify_signature("tbwh_other", header, body, at=1_700_000_100)
    assert not fulfilment.verify_signature("tbwh_secret", header, body, at=1_700_000_301)
    assert not fulfilment.verify_signature("tbwh_secret", "v1=abc", body)
