"""Stage 1 — ingest: store verified, parsed events once, then acknowledge.

Deduplication is the unique key (connection, dedupe key) with ``ON CONFLICT DO NOTHING``: the
same webhook delivered three times, or twice at the same instant, stores one row.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from toonbank.channels.base import Connection, DeliveryReceipt, InboundMessage, ParsedEvent
from toonbank.channels.content import dump_content
from toonbank.db.portable import insert_ignore
from toonbank.kit.clock import now
from toonbank.models import InboundEvent
from toonbank.ops import metrics


@dataclass(frozen=True, slots=True)
class IngestResult:
    stored: int
    duplicates: int


def dedupe_key(event: ParsedEvent) -> str:
    if isinstance(event, InboundMessage):
        return f"m:{event.provider_message_id}"[:255]
    return f"r:{event.provider_message_id}:{event.status}"[:255]


def serialize(event: ParsedEvent) -> tuple[str, dict[str, Any]]:
    """The ledger payload of an event (neutral form, not the provider's raw body)."""
    if isinstance(event, InboundMessage):
        return "message", {
            "provider_message_id": event.provider_message_id,
            "sender_id": event.sender_id,
            "sender_name": event.sender_name,
            "phone": event.phone,
            "content": dump_content(event.content),
            "timestamp": event.timestamp.isoformat() if event.timestamp else None,
            "reply_to": event.reply_to,
            "extra": dict(event.extra),
        }
    assert isinstance(event, DeliveryReceipt)
    return "receipt", {
        "provider_message_id": event.provider_message_id,
        "status": event.status,
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
        "error_code": event.error_code,
        "error_detail": event.error_detail,
    }


async def store_events(ctx: Any, connection: Connection, events: list[ParsedEvent]) -> IngestResult:
    """Store the events in the ledger (committed when this returns) and wake the normalizer.

    Concurrent callers share transactions (group commit, see :class:`LedgerWriter`).
    """
    if not events:
        return IngestResult(stored=0, duplicates=0)
    received = now()
    rows = []
    for event in events:
        kind, payload = serialize(event)
        rows.append(
            {
                "workspace_id": connection.workspace_id,
                "connection_id": connection.id,
                "dedupe_key": dedupe_key(event),
                "kind": kind,
                "payload": payload,
                "received_at": received,
            }
        )
    stored = await ctx.ledger.write(rows)
    duplicates = len(rows) - stored
    if duplicates:
        metrics.DUPLICATES.labels(connection.type).inc(duplicates)
    return IngestResult(stored=stored, duplicates=duplicates)


@dataclass(slots=True)
class _Request:
    rows: list[dict[str, Any]]
    done: asyncio.Future[int]


class LedgerWriter:
    """Group commit for the ledger: webhooks arriving together share one transaction.

    Each caller queues its rows and waits. Whoever finds no write running becomes the leader:
    it opens a transaction and, once it holds the database's write slot, takes *everything*
    queued by then, inserts it with one statement and commits; every waiting caller is then
    answered with how many of its rows were new. Under load a single commit serves many
    webhooks, so ingest holds SQLite's single write lock far less often; idle, a webhook is
    written at once, as before. A failed transaction fails every request in it (the providers
    redeliver, and the unique key makes redelivery safe).
    """

    def __init__(self, db: Any, wake: Any) -> None:
        self._db = db
        self._wake = wake
        self._queue: list[_Request] = []
        self._writing = asyncio.Lock()

    async def write(self, rows: list[dict[str, Any]]) -> int:
        request = _Request(rows, asyncio.get_running_loop().create_future())
        self._queue.append(request)
        async with self._writing:
            if not request.done.done():
                await self._flush()
        return await request.done

    async def _flush(self) -> None:
        batch: list[_Request] = []
        try:
            async with self._db.uow() as uow:
                batch, self._queue = self._queue, []  # all that queued while we waited
                table = InboundEvent.__table__
                # executemany: the statement compiles once and is cached (a multi-row
                # ``.values([...])`` is rebuilt and recompiled on every call).
                result = await uow.session.execute(
                    insert_ignore(uow.session, table, ("connection_id", "dedupe_key")).returning(
                        table.c.connection_id, table.c.dedupe_key
                    ),
                    [row for request in batch for row in request.rows],
                )
                new = {(connection_id, key) for connection_id, key in result}
                if new:
                    uow.on_commit(lambda: self._wake("normalize"))
        except BaseException as exc:
            for request in batch:
                if not request.done.done():
                    request.done.set_exception(
                        exc
                        if isinstance(exc, Exception)
                        else RuntimeError("ledger write cancelled")
                    )
            raise
        for request in batch:  # a key counts as new for the first request that carried it
            stored = 0
            for row in request.rows:
                key = (row["connection_id"], row["dedupe_key"])
                if key in new:
                    new.discard(key)
                    stored += 1
            request.done.set_result(stored)
