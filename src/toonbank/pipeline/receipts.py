"""Delivery receipts: statuses only move forward, whatever order providers report them in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.conversations.events import EventSpec, lock_contacts, record_events
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import Message, PendingReceipt
from toonbank.models.base import table_of

RANK = {"queued": 0, "sending": 1, "sent": 2, "failed": 3, "delivered": 4, "read": 5}
_M = table_of(Message)
_P = table_of(PendingReceipt)


@dataclass(slots=True)
class MessageState:
    """The delivery state of an outbound message, read as plain columns (no ORM instance).

    The pipeline's hot paths read these with one Core ``SELECT``, let :func:`advance` and the
    dispatcher change them in memory, and write them back with one executemany ``UPDATE``.
    """

    id: int
    workspace_id: str
    conversation_id: str
    contact_id: str
    connection_id: str | None
    provider_message_id: str | None
    status: str
    lease_owner: str | None
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    error_code: str | None
    error_detail: str | None


STATE_COLUMNS = [_M.c[name] for name in MessageState.__dataclass_fields__]


def select_states() -> Select[Any]:
    """``SELECT`` of :class:`MessageState` columns (add the ``WHERE``)."""
    return select(*STATE_COLUMNS)


def states_of(rows: Sequence[Any]) -> list[MessageState]:
    return [MessageState(*row) for row in rows]


_STATUS_UPDATE = (
    update(_M)
    .where(_M.c.id == bindparam("m_id"))
    .values(
        status=bindparam("m_status"),
        sent_at=bindparam("m_sent"),
        delivered_at=bindparam("m_delivered"),
        read_at=bindparam("m_read"),
        failed_at=bindparam("m_failed"),
        error_code=bindparam("m_code"),
        error_detail=bindparam("m_detail"),
    )
)


async def write_statuses(session: AsyncSession, rows: Sequence[MessageState]) -> None:
    """Store what :func:`advance` changed on these rows (one executemany ``UPDATE``)."""
    if rows:
        await session.execute(
            _STATUS_UPDATE,
            [
                {
                    "m_id": row.id,
                    "m_status": row.status,
                    "m_sent": row.sent_at,
                    "m_delivered": row.delivered_at,
                    "m_read": row.read_at,
                    "m_failed": row.failed_at,
                    "m_code": row.error_code,
                    "m_detail": row.error_detail,
                }
                for row in rows
            ],
        )


def advance(
    message: Any,
    status: str,
    *,
    occurred_at: datetime,
    error_code: str | None = None,
    error_detail: str | None = None,
) -> EventSpec | None:
    """Apply a status if it moves the message forward; returns the event to record, if any.

    ``message`` is a :class:`~toonbank.models.Message` or a :class:`MessageState`.

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


async def take_pending_receipts(uow: UnitOfWork, messages: Sequence[Any]) -> list[EventSpec]:
    """Apply receipts that arrived before the provider ids were known, then drop them."""
    by_key = {
        (m.connection_id, m.provider_message_id): m
        for m in messages
        if m.provider_message_id is not None and m.connection_id is not None
    }
    if not by_key:
        return []
    session = uow.session
    pending = await session.execute(
        select(
            _P.c.id,
            _P.c.connection_id,
            _P.c.provider_message_id,
            _P.c.status,
            _P.c.occurred_at,
            _P.c.error_code,
            _P.c.error_detail,
        )
        .where(tuple_(_P.c.connection_id, _P.c.provider_message_id).in_(list(by_key)))
        .order_by(_P.c.id)
    )
    specs: list[EventSpec] = []
    ids = []
    for receipt_id, connection_id, provider_id, status, occurred, code, detail in pending:
        ids.append(receipt_id)
        spec = advance(
            by_key[(connection_id, provider_id)],
            status,
            occurred_at=occurred,
            error_code=code,
            error_detail=detail,
        )
        if spec is not None:
            specs.append(spec)
    if ids:
        await session.execute(delete(_P).where(_P.c.id.in_(ids)))
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
        # Lock order (contacts before messages), as everywhere that records events.
        await lock_contacts(uow, {message.contact_id for _receipt, message in rows})
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
