"""Ingest: verify → parse → deduplicate (unique key) → store → acknowledge."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from tests.helpers import SECRET, api_connection, count, message_payload, post_signed

from toonbank.channels.base import InboundMessage
from toonbank.channels.content import Text
from toonbank.context import Context
from toonbank.models import Contact, Conversation, InboundEvent, Message
from toonbank.pipeline.ingest import store_events
from toonbank.pipeline.worker import Worker


async def test_same_webhook_three_times_yields_one_message(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    conn = await api_connection(ctx, workspace["id"])
    for _ in range(3):
        response = await post_signed(app_client, conn.id, message_payload("wamid.1"))
        assert response.status_code == 200
    await Worker(ctx).drain()
    assert await count(ctx, InboundEvent) == 1
    assert await count(ctx, Message, Message.direction == "in") == 1
    assert await count(ctx, Conversation) == 1
    assert await count(ctx, Contact) == 1


async def test_concurrent_duplicates_and_first_messages_make_one_conversation(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    conn = await api_connection(ctx, workspace["id"])
    # Ten copies of one message and five different messages, all from a new customer, at once.
    payloads = [message_payload("dup-1", "new-cust")] * 10 + [
        message_payload(f"m-{i}", "new-cust") for i in range(5)
    ]
    responses = await asyncio.gather(*(post_signed(app_client, conn.id, p) for p in payloads))
    assert {r.status_code for r in responses} == {200}
    worker = Worker(ctx)
    # Two normalizers racing over the same ledger must not split the customer either.
    await asyncio.gather(worker.drain(), Worker(ctx).drain())
    assert await count(ctx, Message, Message.direction == "in") == 6
    assert await count(ctx, Conversation) == 1
    assert await count(ctx, Contact) == 1


async def test_bad_input_gets_clear_4xx_and_stores_nothing(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    conn = await api_connection(ctx, workspace["id"])
    malformed = await post_signed(app_client, conn.id, b"{not json")
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "invalid_payload"

    bad_content = await post_signed(
        app_client,
        conn.id,
        {"messages": [{"id": "x", "from": "a", "content": {"type": "nope"}}]},
    )
    assert bad_content.status_code == 400

    wrong_sig = await post_signed(app_client, conn.id, message_payload("a"), secret="wrong")
    assert wrong_sig.status_code == 401
    assert wrong_sig.json()["error"] == "invalid_signature"

    missing_sig = await app_client.post(f"/webhooks/{conn.id}", content=b"{}")
    assert missing_sig.status_code == 401

    replayed = await post_signed(
        app_client, conn.id, message_payload("b"), timestamp=int(time.time()) - 3600
    )
    assert replayed.status_code == 401

    unknown = await post_signed(app_client, "0" * 32, message_payload("c"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_connection"

    huge = json.dumps(message_payload("d", text="x" * 10)).encode() + b" " * 2_000_000
    too_large = await post_signed(app_client, conn.id, huge)
    assert too_large.status_code == 413

    assert await count(ctx, InboundEvent) == 0
    assert await count(ctx, Message) == 0


async def test_oversized_body_without_content_length_is_refused(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    conn = await api_connection(ctx, workspace["id"])

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 65536

    response = await app_client.post(f"/webhooks/{conn.id}", content=chunks())
    assert response.status_code == 413
    assert await count(ctx, InboundEvent) == 0


async def test_signature_of_other_connection_is_rejected(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    conn = await api_connection(ctx, workspace["id"])
    assert SECRET  # the default secret signs; the webchat connection has no webhook at all
    async with ctx.db.session() as session:
        from toonbank.channels.connections import find_connection

        webchat = await find_connection(session, workspace["id"], "webchat")
    assert webchat is not None
    response = await post_signed(app_client, webchat.id, message_payload("x"))
    assert response.status_code == 401
    assert await count(ctx, InboundEvent) == 0
    assert conn.id != webchat.id


async def test_concurrent_webhooks_share_commits_and_each_learns_its_own_outcome(
    ctx: Context, workspace: dict[str, str]
) -> None:
    """Group commit: many callers at once, overlapping duplicates, exact per-caller counts."""
    row = await api_connection(ctx, workspace["id"])
    conn = await ctx.connections.get(row.id)
    assert conn is not None

    def message(pid: str) -> InboundMessage:
        return InboundMessage(provider_message_id=pid, sender_id="c-1", content=Text(text="hi"))

    # 30 callers: ids 0..9 each sent three times, some inside one call, some across calls.
    calls = [[message(f"p-{i % 10}")] for i in range(20)] + [
        [message(f"p-{i}"), message(f"p-{i}")] for i in range(10)
    ]
    results = await asyncio.gather(*(store_events(ctx, conn, events) for events in calls))
    assert sum(r.stored for r in results) == 10
    assert sum(r.stored + r.duplicates for r in results) == 40
    assert await count(ctx, InboundEvent) == 10
    # Idle again: a lone caller is written at once and learns it was a duplicate.
    again = await store_events(ctx, conn, [message("p-3")])
    assert (again.stored, again.duplicates) == (0, 1)
