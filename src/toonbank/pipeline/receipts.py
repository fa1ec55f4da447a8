"""Delivery receipts: statuses only move forward, whatever order providers report them in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from toonbank.conversations.events import record_event
from toonbank.db.uow import UnitOfWork
from toonbank.models import Message, PendingReceipt
from toonbank.realtime import Bus

RANK = {"queued": 0, "sending": 1, "sent": 2, "failed": 3, "delivered": 4, "read": 5}


async def apply_receipt(
    uow: UnitOfWork,
    bus: Bus,
    message: Message,
    status: str,
    *,
    occurred_at: datetime,
    error_code: str | None = None,
    error_detail: str | None = None,
) -> bool:
    """Apply a status if it moves the message forward ("read" after "delivered", never back).

    A ``failed`` receipt after ``delivered`` is ignored; ``delivered``/``read`` after a
    ``failed`` one wins, because the customer evidently got the message.
    """
    if RANK.get(status, -1) <= RANK.get(message.status, -1):
        return False
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
    await record_event(
        uow,
        bus,
        workspace_id=message.workspace_id,
        conversation_id=message.conversation_id,
        contact_id=message.contact_id,
        type="message_status",
        data={"message_id": message.id, "status": status, "error_code": error_code},
    )
    return True


async def apply_pending_receipts(uow: UnitOfWork, bus: Bus, message: Message) -> None:
    """Apply receipts that arrived before the provider id was known, then drop them."""
    if message.provider_message_id is None or message.connection_id is None:
        return
    session = uow.session
    pending = (
        await session.execute(
            select(PendingReceipt)
            .where(
                PendingReceipt.connection_id == message.connection_id,
                PendingReceipt.provider_message_id == message.provider_message_id,
            )
            .order_by(PendingReceipt.id)
        )
    ).scalars()
    ids = []
    for receipt in pending:
        ids.append(receipt.id)
        await apply_receipt(
            uow,
            bus,
            message,
            receipt.status,
            occurred_at=receipt.occurred_at,
            error_code=receipt.error_code,
            error_detail=receipt.error_detail,
        )
    if ids:
        await session.execute(delete(PendingReceipt).where(PendingReceipt.id.in_(ids)))
