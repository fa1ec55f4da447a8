"""Stage 1 — ingest: store verified, parsed events once, then acknowledge.

Deduplication is the unique key (connection, dedupe key) with ``ON CONFLICT DO NOTHING``: the
same webhook delivered three times, or twice at the same instant, stores one row.
"""

from __future__ import annotations

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
    """Insert the events into the ledger in one transaction and wake the normalizer."""
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
    table = InboundEvent.__table__
    async with ctx.db.uow() as uow:
        result = await uow.session.execute(
            insert_ignore(uow.session, table, ("connection_id", "dedupe_key"))
            .values(rows)
            .returning(table.c.id)
        )
        stored = len(result.all())
        if stored:
            uow.on_commit(lambda: ctx.wake("normalize"))
    duplicates = len(rows) - stored
    if duplicates:
        metrics.DUPLICATES.labels(connection.type).inc(duplicates)
    return IngestResult(stored=stored, duplicates=duplicates)
