"""Delivery receipts: statuses only move forward, whatever order providers report them in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, tuple_

from toonbank.conversations.events import EventSpec, record_events
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import Message, PendingReceipt

RANK = {"queued": 0, "sending": 1, "sent": 2, "failed": 3, "delivered": 4, "read": 5}


def advance(
    message: Message,
    status: str,
    *,
    occurred_at: datetime,
    error_code: str | None = None,
    error_detail: str | None = None,
) -> EventSpec | None:
    """Apply a status if it moves the message forward; returns the event to record, if any.

    "read" after "delivered" applies, never the reverse. A ``failed`` receipt after
    ``delivered`` is ignored; ``delivered``/``read`` after ``failed`` wins, because the customer
    evidently got the message.
    """
    if RANK.get(status, -1) <= RANK.get(message.status, -1):
        return None
    message.status = status
    if status == "sent":
        message.sent_at = message.sent_at or occurred_at
    elif status == "delivered":
        message.delivered_at = occurred_at
    elif status == "read":
        message.read_at = occurred_at
        message.delivered_at = message.delivered_at or occurred_at
    elif status == "failed":
        message.failed_at = occurred_at
        message.error_code = error_code
        message.error_detail = error_detail
    return EventSpec(
        workspace_id=message.workspace_id,
        type="message_status",
        data={"message_id": message.id, "status": status, "error_code": error_code},
        conversation_id=message.conversation_id,
        contact_id=message.contact_id,
    )


async def take_pending_receipts(uow: UnitOfWork, messages: list[Message]) -> list[EventSpec]:
    """Apply receipts that arrived before the provider ids were known, then drop them."""
    by_key = {
        (m.connection_id, m.provider_message_id): m
        for m in messages
        if m.provider_message_id is not None and m.connection_id is not None
    }
    if not by_key:
        return []
    session = uow.session
    pending = (
        await session.execute(
            select(PendingReceipt)
            .where(
                tuple_(PendingReceipt.connection_id, PendingReceipt.provider_message_id).in_(
                    list(by_key)
                )
            )
            .order_by(PendingReceipt.id)
        )
    ).scalars()
    specs: list[EventSpec] = []
    ids = []
    for receipt in pending:
        ids.append(receipt.id)
        spec = advance(
            by_key[(receipt.connection_id, receipt.provider_message_id)],
            receipt.status,
            occurred_at=receipt.occurred_at,
            error_code=receipt.error_code,
            error_detail=receipt.error_detail,
        )
        if spec is not None:
            specs.append(spec)
    if ids:
        await session.execute(delete(PendingReceipt).where(PendingReceipt.id.in_(ids)))
    return specs


PENDING_TTL = timedelta(days=7)


async def reconcile_pending_receipts(ctx: Any, limit: int = 500) -> int:
    """Apply parked receipts whose message has its provider id by now; drop very old ones.

    Normally the dispatcher applies them when it records the id, but on PostgreSQL a receipt
    parked by a transaction running concurrently with that one is seen by neither; this sweep
    (run periodically by the worker) settles it.
    """
    async with ctx.db.uow() as uow:
        session = uow.session
        rows = (
            await session.execute(
                select(PendingReceipt, Message)
                .join(
                    Message,
                    and_(
                        Message.connection_id == PendingReceipt.connection_id,
                        Message.provider_message_id == PendingReceipt.provider_message_id,
                        Message.direction == "out",
                    ),
                )
                .order_by(PendingReceipt.id)
                .limit(limit)
            )
        ).all()
        specs: list[EventSpec] = []
        for receipt, message in rows:
            spec = advance(
                message,
                receipt.status,
                occurred_at=receipt.occurred_at,
                error_code=receipt.error_code,
                error_detail=receipt.error_detail,
            )
            if spec is not None:
                specs.append(spec)
        if rows:
            await session.execute(
                delete(PendingReceipt).where(PendingReceipt.id.in_([r.id for r, _m in rows]))
            )
        expired = await session.execute(
            delete(PendingReceipt).where(PendingReceipt.received_at < now() - PENDING_TTL)
        )
        await record_events(uow, ctx.bus, specs)
    return len(rows) + int(getattr(expired, "rowcount", 0) or 0)
