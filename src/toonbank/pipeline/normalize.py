"""Stage 2 — normalize: ledger rows → contacts, conversations, messages, receipt updates.

One worker at a time (a row-locked singleton) walks the ledger in arrival order, so two events
for the same new customer can never create two contacts or two conversations, and messages
enter each conversation in the order they arrived.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select

from toonbank.channels.base import Connection
from toonbank.contacts.service import resolve_contact
from toonbank.conversations.events import message_view, record_event
from toonbank.conversations.service import open_conversation
from toonbank.db.portable import insert_ignore
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import InboundEvent, Message, PendingReceipt
from toonbank.ops import metrics
from toonbank.pipeline.leases import claim_singleton, release_singleton
from toonbank.pipeline.receipts import apply_receipt

log = structlog.get_logger(__name__)
BATCH = 200


async def normalize_batch(ctx: Any, owner: str) -> int:
    """Normalize up to one batch of pending ledger rows; returns how many were handled."""
    async with ctx.db.uow() as uow:
        if not await claim_singleton(uow.session, "normalize", owner, ctx.settings.lease_seconds):
            return 0
        rows = (
            await uow.session.execute(
                select(InboundEvent)
                .where(InboundEvent.processed_at.is_(None))
                .order_by(InboundEvent.id)
                .limit(BATCH)
            )
        ).scalars()
        handled = 0
        new_messages = False
        for row in rows:
            connection = await ctx.connections.get(row.connection_id)
            if connection is None:
                row.error = "connection removed or disabled"
            elif row.kind == "message":
                new_messages |= await _message(ctx, uow, connection, row)
            elif row.kind == "receipt":
                await _receipt(ctx, uow, connection, row.payload)
            row.processed_at = now()
            handled += 1
        await release_singleton(uow.session, "normalize", owner)
        if new_messages:
            uow.on_commit(lambda: ctx.wake("process"))
    return handled


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _message(ctx: Any, uow: UnitOfWork, connection: Connection, row: InboundEvent) -> bool:
    payload = row.payload
    session = uow.session
    contact_id = await resolve_contact(
        session,
        workspace_id=connection.workspace_id,
        channel_type=connection.type,
        external_id=payload["sender_id"],
        connection_id=connection.id,
        display_name=payload.get("sender_name"),
        phone=payload.get("phone"),
        seen_at=row.received_at,
    )
    conversation = await open_conversation(
        uow, ctx.bus, workspace_id=connection.workspace_id, contact_id=contact_id
    )
    table = Message.__table__
    result = await session.execute(
        insert_ignore(session, table, ("connection_id", "direction", "provider_message_id"))
        .values(
            workspace_id=connection.workspace_id,
            conversation_id=conversation.id,
            contact_id=contact_id,
            connection_id=connection.id,
            direction="in",
            sender="contact",
            content=payload["content"],
            provider_message_id=payload["provider_message_id"],
            reply_to_provider_id=payload.get("reply_to"),
            status="received",
            attempts=0,
            provider_timestamp=_parse_time(payload.get("timestamp")),
            created_at=row.received_at,
        )
        .returning(table.c.id)
    )
    message_id = result.scalar_one_or_none()
    if message_id is None:
        metrics.DUPLICATES.labels(connection.type).inc()
        return False
    conversation.last_message_at = row.received_at
    conversation.last_connection_id = connection.id
    message = await session.get(Message, message_id)
    assert message is not None
    await record_event(
        uow,
        ctx.bus,
        workspace_id=connection.workspace_id,
        conversation_id=conversation.id,
        contact_id=contact_id,
        type="message",
        data={"message": message_view(message, connection.type)},
    )
    metrics.MESSAGES_IN.labels(connection.type).inc()
    return True


async def _receipt(
    ctx: Any, uow: UnitOfWork, connection: Connection, payload: dict[str, Any]
) -> None:
    session = uow.session
    message = (
        await session.execute(
            select(Message).where(
                Message.connection_id == connection.id,
                Message.direction == "out",
                Message.provider_message_id == payload["provider_message_id"],
            )
        )
    ).scalar_one_or_none()
    occurred = _parse_time(payload.get("timestamp")) or now()
    if message is None:
        # The provider reported on a message whose send call has not returned to us yet.
        session.add(
            PendingReceipt(
                workspace_id=connection.workspace_id,
                connection_id=connection.id,
                provider_message_id=payload["provider_message_id"],
                status=payload["status"],
                error_code=payload.get("error_code"),
                error_detail=payload.get("error_detail"),
                occurred_at=occurred,
            )
        )
        return
    await apply_receipt(
        uow,
        ctx.bus,
        message,
        payload["status"],
        occurred_at=occurred,
        error_code=payload.get("error_code"),
        error_detail=payload.get("error_detail"),
    )


async def pending_count(ctx: Any) -> int:
    async with ctx.db.session() as session:
        value = await session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.processed_at.is_(None))
        )
    return int(value or 0)
