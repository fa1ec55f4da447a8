"""Payment link lifetimes (SQLite and PostgreSQL): one reminder in the customer's language before
a link expires, then the expiry, each exactly once even with sweeps running concurrently; the
link is stopped at Mollie and Stripe too; short links get no reminder."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from toonbank.commerce.payments import reminders
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import Conversation, Payment

from .mollie_fake import API_KEY, FakeMollie, fake_mollie_fixture  # noqa: F401  (fixture)
from .test_api import auth
from .test_payments_sandbox import outbound, pending_order
from .test_payments_stripe import FakeStripe, connect, fake_stripe_fixture  # noqa: F401


async def _move(ctx: Context, payment_id: str, *, expires_in: timedelta, age: timedelta) -> None:
    async with ctx.db.uow() as uow:
        await uow.session.execute(
            update(Payment)
            .where(Payment.id == payment_id)
            .values(expires_at=now() + expires_in, created_at=now() - age)
        )


async def _links(client: httpx.AsyncClient, key: str, conversation_id: str) -> list[Any]:
    return [c for c in await outbound(client, key, conversation_id) if c["type"] == "payment_link"]


async def test_one_reminder_then_one_expiry(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    async with ctx.db.uow() as uow:
        await uow.session.execute(
            update(Conversation)
            .where(Conversation.id == s["conversation_id"])
            .values(language="nl")
        )
    payment = (await app_client.post(f"/api/v1/orders/{oid}/payments", json={},
                                     headers=auth(key))).json()  # fmt: skip
    assert await reminders.remind_due(ctx) == 0  # 24 hours left: not yet
    await _move(ctx, payment["id"], expires_in=timedelta(minutes=30), age=timedelta(hours=23))
    results = await asyncio.gather(*(reminders.remind_due(ctx) for _ in range(3)))
    assert sorted(results) == [0, 0, 1]
    assert await reminders.remind_due(ctx) == 0
    first, reminder = await _links(app_client, key, s["conversation_id"])
    assert reminder["url"] == first["url"] == payment["url"]
    assert reminder["text"].startswith("Herinnering: je betaallink voor bestelling")
    assert s["order"]["number"] in reminder["text"] and "144.85 EUR" in reminder["text"]

    await _move(ctx, payment["id"], expires_in=-timedelta(seconds=1), age=timedelta(hours=24))
    results = await asyncio.gather(*(reminders.expire_due(ctx) for _ in range(3)))
    assert sorted(results) == [0, 0, 1]
    assert await reminders.expire_due(ctx) == 0
    order = (await app_client.get(f"/api/v1/orders/{oid}", headers=auth(key))).json()
    assert order["status"] == "pending"
    kinds = [(e["kind"], e["data"].get("to")) for e in order["events"]]
    assert kinds == [("created", None), ("payment_link", None), ("payment_reminder", None),
                     ("payment", "expired")]  # fmt: skip
    assert len(await _links(app_client, key, s["conversation_id"])) == 2
    page = await app_client.get(httpx.URL(payment["url"]).path)
    assert "This payment is expired" in page.text


async def test_short_link_gets_no_reminder_and_paid_link_never_expires(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    body = {"expires_in_minutes": 30}
    short = (
        await app_client.post(f"/api/v1/orders/{oid}/payments", json=body, headers=auth(key))
    ).json()
    assert await reminders.remind_due(ctx) == 1  # settled without a message
    assert len(await _links(app_client, key, s["conversation_id"])) == 1
    async with ctx.db.session() as session:
        row = await session.get(Payment, short["id"])
        assert row is not None and row.reminded_at is not None

    from .test_payments_sandbox import pay

    await pay(app_client, short["url"])
    await _move(ctx, short["id"], expires_in=-timedelta(minutes=1), age=timedelta(hours=1))
    assert await reminders.expire_due(ctx) == 0
    [paid] = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert paid["status"] == "paid"


async def test_expiry_stops_the_link_at_mollie(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_mollie: FakeMollie
) -> None:
    key = workspace["api_key"]
    await app_client.put("/api/v1/payments/providers/mollie", json={"api_key": API_KEY},
                         headers=auth(key))  # fmt: skip
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    body = {"provider": "mollie", "send": False}
    created = await app_client.post(f"/api/v1/orders/{oid}/payments", json=body, headers=auth(key))
    payment = created.json()
    [ref] = fake_mollie.payments
    await _move(ctx, payment["id"], expires_in=-timedelta(seconds=1), age=timedelta(hours=1))
    assert await reminders.expire_due(ctx) == 1
    assert ("DELETE", f"/v2/payments/{ref}", {}) in fake_mollie.requests
    assert fake_mollie.payments[ref]["status"] == "canceled"
    [stored] = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert stored["status"] == "expired"


async def test_expiry_expires_the_stripe_session(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str], fake_stripe: FakeStripe
) -> None:
    key = workspace["api_key"]
    await connect(app_client, key)
    s = await pending_order(app_client, ctx, workspace)
    oid = s["order"]["id"]
    body = {"provider": "stripe", "send": False}
    created = await app_client.post(f"/api/v1/orders/{oid}/payments", json=body, headers=auth(key))
    payment = created.json()
    fake_stripe.session["status"] = "open"
    await _move(ctx, payment["id"], expires_in=-timedelta(seconds=1), age=timedelta(hours=1))
    assert await reminders.expire_due(ctx) == 1
    assert len(fake_stripe.posts(f"/v1/checkout/sessions/{fake_stripe.session['id']}/expire")) == 1
    [stored] = (await app_client.get(f"/api/v1/orders/{oid}/payments", headers=auth(key))).json()
    assert stored["status"] == "expired"
