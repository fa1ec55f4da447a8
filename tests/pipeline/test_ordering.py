"""Several workers at once: each conversation is still answered strictly in order, once."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from sqlalchemy import select
from tests.helpers import api_connection, count

from toonbank.channels.base import InboundMessage
from toonbank.channels.connections import to_connection
from toonbank.channels.content import Text
from toonbank.context import Context
from toonbank.models import Message
from toonbank.pipeline.ingest import store_events
from toonbank.pipeline.worker import Worker

CUSTOMERS = 6
PER_CUSTOMER = 12


async def test_concurrent_workers_keep_per_conversation_order(
    ctx: Context, workspace: dict[str, str]
) -> None:
    row = await api_connection(ctx, workspace["id"])  # no base URL: sends fail, turns still run
    connection = to_connection(row, ctx.secret_box)
    workers = [Worker(ctx, name=f"w{i}") for i in range(3)]
    for worker in workers:
        await worker.start()
    try:
        # Messages keep arriving while three workers race for the conversations.
        for n in range(PER_CUSTOMER):
            batch = [
                InboundMessage(
                    provider_message_id=f"c{c}-m{n}",
                    sender_id=f"c{c}",
                    content=Text(text=f"msg {n}"),
                )
                for c in range(CUSTOMERS)
            ]
            await store_events(ctx, connection, batch)
            await asyncio.sleep(0.01)
        total_in = CUSTOMERS * PER_CUSTOMER

        async def all_processed() -> bool:
            return (
                await count(
                    ctx, Message, Message.direction == "in", Message.processed_at.is_not(None)
                )
                == total_in
            )

        async with asyncio.timeout(30):
            while not await all_processed():
                await asyncio.sleep(0.05)
    finally:
        for worker in workers:
            await worker.stop()

    async with ctx.db.session() as session:
        rows = (
            await session.execute(
                select(Message)
                .where(Message.direction == "out", Message.sender == "bot")
                .order_by(Message.id)
            )
        ).scalars()
        echoes: dict[str, list[str]] = defaultdict(list)
        for message in rows:
            text = message.content.get("text", "")
            if text.startswith("You said: "):
                echoes[message.conversation_id].append(text.removeprefix("You said: "))
    assert len(echoes) == CUSTOMERS
    for replies in echoes.values():
        # The first message gets the greeting; every later one exactly one echo, in order.
        assert replies == [f"msg {n}" for n in range(1, PER_CUSTOMER)]
