"""Processing and the outbox: replies in order, retries, receipts, attempt log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from tests.helpers import SECRET, api_connection, count, message_payload, post_signed

from toonbank.context import Context
from toonbank.models import DeliveryAttempt, Message, PendingReceipt
from toonbank.pipeline.worker import Worker
from toonbank.simulator.api_channel import ApiReceiver, BackgroundServer, Fault


@pytest.fixture
def receiver() -> Iterator[tuple[ApiReceiver, str]]:
    sim = ApiReceiver(secret=SECRET)
    with BackgroundServer(sim.app()) as server:
        yield sim, server.url


async def _outbound(ctx: Context) -> list[Message]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Message).where(Message.direction == "out").order_by(Message.id)
        )
        return list(rows.scalars())


async def _attempts(ctx: Context, message_id: int) -> list[DeliveryAttempt]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.id)
        )
        return list(rows.scalars())


async def _drain_until(worker: Worker, ctx: Context, predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        await worker.drain()
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_bot_reply_reaches_provider_in_order_once(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    receiver: tuple[ApiReceiver, str],
) -> None:
    sim, url = receiver
    conn = await api_connection(ctx, workspace["id"], url)
    await post_signed(app_client, conn.id, message_payload("in-1", "cust-9", "hello"))
    await post_signed(app_client, conn.id, message_payload("in-2", "cust-9", "something else"))
    await Worker(ctx).drain()
    texts = [d.content.get("text") for d in sim.deliveries]
    assert texts[0].startswith("Hi! I'm the Toonbank demo assistant")
    assert sim.deliveries[1].content["type"] == "quick_replies"
    assert texts[2] == "You said: something else"
    assert len(sim.deliveries) == 3
    assert {d.to for d in sim.deliveries} == {"cust-9"}
    outbound = await _outbound(ctx)
    assert [m.status for m in outbound] == ["sent"] * 3
    assert [m.provider_message_id for m in outbound] == [d.provider_id for d in sim.deliveries]


async def test_button_reply_payload_reaches_the_bot(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    receiver: tuple[ApiReceiver, str],
) -> None:
    sim, url = receiver
    conn = await api_connection(ctx, workspace["id"], url)
    await post_signed(app_client, conn.id, message_payload("a", "c1", "hi"))
    await Worker(ctx).drain()
    reply = {
        "messages": [
            {
                "id": "b",
                "from": "c1",
                "content": {"type": "reply", "payload": "menu:order", "title": "Order status"},
            }
        ]
    }
    await post_signed(app_client, conn.id, reply)
    await Worker(ctx).drain()
    assert sim.deliveries[2].content == {"type": "text", "text": "You chose: Order status."}


async def test_provider_failures_are_retried_until_delivered(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    receiver: tuple[ApiReceiver, str],
) -> None:
    sim, url = receiver
    conn = await api_connection(ctx, workspace["id"], url)
    sim.faults.extend(
        [
            Fault(status=500),
            Fault(status=429, retry_after=0.3),
            Fault(delay=3.0),  # longer than dispatch_timeout (2 s): a timeout
            Fault(status=503),
        ]
    )
    await post_signed(app_client, conn.id, message_payload("x", "c2", "not a greeting"))
    worker = Worker(ctx)

    async def delivered() -> bool:
        return await count(ctx, Message, Message.direction == "out", Message.status == "sent") >= 1

    await _drain_until(worker, ctx, delivered, timeout=20)
    first = (await _outbound(ctx))[0]
    attempts = await _attempts(ctx, first.id)
    assert [a.outcome for a in attempts] == ["retry", "retry", "retry", "retry", "sent"]
    assert [a.error_code for a in attempts] == ["http_500", "http_429", "timeout", "http_503", None]
    assert attempts[1].retry_after == pytest.approx(0.3)
    gap = (attempts[2].started_at - attempts[1].finished_at).total_seconds()
    assert gap >= 0.29, "Retry-After must be honoured"
    assert first.attempts == 5
    keys = [d.idempotency_key for d in sim.deliveries]
    assert keys.count(f"toonbank-{first.id}") == 1


async def test_permanent_failure_is_reported_not_retried(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    receiver: tuple[ApiReceiver, str],
) -> None:
    sim, url = receiver
    conn = await api_connection(ctx, workspace["id"], url)
    sim.faults.append(Fault(status=400, error_code="recipient_opted_out"))
    await post_signed(app_client, conn.id, message_payload("x", "c3", "plain words"))
    await Worker(ctx).drain()
    message, menu = await _outbound(ctx)
    assert message.status == "failed"
    assert message.error_code == "http_400"
    assert [a.outcome for a in await _attempts(ctx, message.id)] == ["failed"]
    # The next reply is not held hostage by a message that can never be delivered.
    assert menu.status == "sent"
    assert [d.content["type"] for d in sim.deliveries] == ["quick_replies"]


async def test_receipts_out_of_order_and_before_the_send_returns(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    receiver: tuple[ApiReceiver, str],
) -> None:
    _sim, url = receiver
    conn = await api_connection(ctx, workspace["id"], url)
    # The provider reports "read" and then "delivered" for sim-1 before we even sent it.
    early = {
        "statuses": [
            {"id": "sim-1", "status": "read", "timestamp": 1_900_000_000},
            {"id": "sim-1", "status": "delivered", "timestamp": 1_899_999_999},
        ]
    }
    assert (await post_signed(app_client, conn.id, early)).status_code == 200
    worker = Worker(ctx)
    await worker.drain()
    assert await count(ctx, PendingReceipt) == 2
    await post_signed(app_client, conn.id, message_payload("x", "c4", "plain words"))
    await worker.drain()
    message = (await _outbound(ctx))[0]
    assert message.provider_message_id == "sim-1"
    assert message.status == "read"  # never moved back to "delivered"
    assert message.read_at is not None and message.sent_at is not None
    assert await count(ctx, PendingReceipt) == 0
    # A late "failed" after "read" does not undo the delivery.
    await post_signed(app_client, conn.id, {"statuses": [{"id": "sim-1", "status": "failed"}]})
    await worker.drain()
    message = (await _outbound(ctx))[0]
    assert message.status == "read"


async def test_receipts_from_provider_mark_delivered(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    sim = ApiReceiver(secret=SECRET)
    with BackgroundServer(sim.app()) as server:
        conn = await api_connection(ctx, workspace["id"], server.url)
        # Receipts go back through the real HTTP webhook of a served app.
        sim.receipts_url = None
        await post_signed(app_client, conn.id, message_payload("x", "c5", "plain words"))
        worker = Worker(ctx)
        await worker.drain()
        delivery = sim.deliveries[0]
        await post_signed(
            app_client, conn.id, {"statuses": [{"id": delivery.provider_id, "status": "delivered"}]}
        )
        await worker.drain()
    message = (await _outbound(ctx))[0]
    assert message.status == "delivered"
    assert message.delivered_at is not None


async def test_rate_limit_spaces_sends(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    receiver: tuple[ApiReceiver, str],
) -> None:
    sim, url = receiver
    conn = await api_connection(ctx, workspace["id"], url, rate=20)
    for i in range(10):
        await post_signed(app_client, conn.id, message_payload(f"r{i}", f"cust-{i}", "plain"))
    await Worker(ctx).drain()
    times = sorted(r["at"] for r in sim.requests)
    assert len(times) == 20  # each new customer: greeting + menu
    # 20 sends at 20/s are spaced by 50 ms: the span is at least 19 intervals.
    assert times[-1] - times[0] >= 19 * 0.05 * 0.9


async def test_parked_receipt_that_raced_the_send_is_settled_by_the_sweep(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    receiver: tuple[ApiReceiver, str],
) -> None:
    from toonbank.pipeline.receipts import reconcile_pending_receipts

    _sim, url = receiver
    conn = await api_connection(ctx, workspace["id"], url)
    await post_signed(app_client, conn.id, message_payload("x", "c6", "plain words"))
    await Worker(ctx).drain()
    message = (await _outbound(ctx))[0]
    assert message.status == "sent"
    # As if the receipt had been parked by a transaction concurrent with the send's record.
    async with ctx.db.uow() as uow:
        uow.session.add(
            PendingReceipt(
                workspace_id=workspace["id"],
                connection_id=conn.id,
                provider_message_id=message.provider_message_id,
                status="delivered",
            )
        )
    assert await reconcile_pending_receipts(ctx) == 1
    assert (await _outbound(ctx))[0].status == "delivered"
    assert await count(ctx, PendingReceipt) == 0
