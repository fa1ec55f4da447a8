"""Crash safety: SIGKILL a worker mid-dispatch, restart it, every reply is delivered once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.helpers import SECRET, api_connection, count

from toonbank.channels.base import InboundMessage
from toonbank.channels.connections import to_connection
from toonbank.channels.content import Text
from toonbank.config import Settings
from toonbank.context import Context
from toonbank.models import DeliveryAttempt, Message
from toonbank.pipeline.ingest import store_events
from toonbank.simulator.api_channel import ApiReceiver, BackgroundServer

pytestmark = pytest.mark.slow
CUSTOMERS = 15
REPLIES = 2 * CUSTOMERS  # greeting + menu for each new customer


def _worker(settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TOONBANK_DATABASE_URL": settings.database_url,
        "TOONBANK_SECRET_KEY": str(settings.secret_key),
        "TOONBANK_DATA_DIR": str(tmp_path),
        "TOONBANK_DISPATCH_TIMEOUT": "1.5",
        "TOONBANK_LEASE_SECONDS": "2",
        "TOONBANK_WORKER_POLL_INTERVAL": "0.05",
        "TOONBANK_RETRY_BASE_SECONDS": "0.05",
        "TOONBANK_LOG_LEVEL": "WARNING",
    }
    with (tmp_path / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "toonbank", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


async def _wait(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def _customers_write(ctx: Context, workspace_id: str, url: str) -> None:
    row = await api_connection(ctx, workspace_id, url)
    connection = to_connection(row, ctx.secret_box)
    for i in range(CUSTOMERS):
        message = InboundMessage(
            provider_message_id=f"crash-{i}", sender_id=f"cust-{i}", content=Text(text="hi")
        )
        await store_events(ctx, connection, [message])


async def test_sigkill_mid_dispatch_then_restart_delivers_every_reply_exactly_once(
    ctx: Context, settings: Settings, workspace: dict[str, str], tmp_path: Path
) -> None:
    sim = ApiReceiver(secret=SECRET, delay=0.3)  # a slow provider: sends are in flight
    with BackgroundServer(sim.app()) as server:
        await _customers_write(ctx, workspace["id"], server.url)
        first = _worker(settings, tmp_path)
        try:

            async def mid_dispatch() -> bool:
                return sim.inflight > 0 and len(sim.deliveries) >= 2

            await _wait(mid_dispatch, 30, "sends in flight")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            first.kill()
        # The dead worker left claimed sends behind.
        assert await count(ctx, Message, Message.status == "sending") >= 1
        assert len(sim.deliveries) < REPLIES

        second = _worker(settings, tmp_path)
        try:

            async def all_sent() -> bool:
                return (
                    await count(ctx, Message, Message.direction == "out", Message.status == "sent")
                    == REPLIES
                )

            await _wait(all_sent, 60, "all replies sent after restart")
        finally:
            second.terminate()
            second.wait(15)

    keys = Counter(d.idempotency_key for d in sim.deliveries)
    assert len(sim.deliveries) == REPLIES
    assert set(keys.values()) == {1}
    async with ctx.db.session() as session:
        outbound = list(
            (await session.execute(select(Message).where(Message.direction == "out"))).scalars()
        )
        outcomes = Counter((await session.execute(select(DeliveryAttempt.outcome))).scalars())
    assert {f"toonbank-{m.id}" for m in outbound} == set(keys)
    # Each customer's turn ran once: two replies per conversation, never four.
    assert set(Counter(m.conversation_id for m in outbound).values()) == {2}
    assert outcomes["unknown"] >= 1  # the sends the killed worker never finished
    assert outcomes["sent"] >= REPLIES
    # Retried sends after the crash were recognised by the provider's idempotency key.
    assert len(sim.requests) >= REPLIES


async def test_sigterm_finishes_in_flight_sends_before_exiting(
    ctx: Context, settings: Settings, workspace: dict[str, str], tmp_path: Path
) -> None:
    sim = ApiReceiver(secret=SECRET, delay=0.8)
    with BackgroundServer(sim.app()) as server:
        await _customers_write(ctx, workspace["id"], server.url)
        worker = _worker(settings, tmp_path)
        try:

            async def in_flight() -> bool:
                return sim.inflight > 0

            await _wait(in_flight, 30, "a send in flight")
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(20) == 0
        finally:
            worker.kill()
    assert await count(ctx, Message, Message.status == "sending") == 0
    async with ctx.db.session() as session:
        outcomes = set((await session.execute(select(DeliveryAttempt.outcome))).scalars())
    assert "started" not in outcomes and "unknown" not in outcomes
