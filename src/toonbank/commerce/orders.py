"""Orders: the status machine, the event history and customer notifications. Never commits.

    pending ─→ paid ─→ fulfilled ─→ shipped ─→ delivered ─→ returned ─→ refunded
       │         │         │           │           │
       └→ cancelled  ←─────┘           └→ returned └→ refunded
                 └→ refunded (also from fulfilled)

An order is created ``pending`` at checkout and counts as placed once ``paid``. Every change
writes an ``order_events`` row. A change the customer cares about (paid, shipped with its
tracking number, delivered, cancelled, refunded) is queued as a message on the contact's latest
conversation, on the channel they last used; the pipeline's outbox delivers it.

Stock held at checkout is given back when the order is cancelled and leaves the shelf
(``quantity`` goes down) when it is fulfilled, shipped or delivered, whichever comes first. A
return puts those units back on the shelf unless the caller says the goods cannot be resold
(``restock=False``).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.channels.content import Content, LineItem, OrderSummary, Text
from toonbank.channels.render import degrade
from toonbank.commerce import fulfilment, reservations
from toonbank.commerce.money import Money
from toonbank.context import Context
from toonbank.conversations.service import open_conversation, queue_outbound, recipients
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import Conversation, Order, OrderEvent, OrderLine

PENDING, PAID, FULFILLED, SHIPPED, DELIVERED = (
    "pending",
    "paid",
    "fulfilled",
    "shipped",
    "delivered",
)
CANCELLED, RETURNED, REFUNDED = "cancelled", "returned", "refunded"
STATES: Final = (PENDING, PAID, FULFILLED, SHIPPED, DELIVERED, CANCELLED, RETURNED, REFUNDED)
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    PENDING: frozenset({PAID, CANCELLED}),
    PAID: frozenset({FULFILLED, SHIPPED, CANCELLED, REFUNDED}),
    FULFILLED: frozenset({SHIPPED, DELIVERED, CANCELLED, REFUNDED}),
    SHIPPED: frozenset({DELIVERED, RETURNED}),
    DELIVERED: frozenset({RETURNED, REFUNDED}),
    RETURNED: frozenset({REFUNDED}),
    CANCELLED: frozenset(),
    REFUNDED: frozenset(),
}
MESSAGES: Final[dict[str, str]] = {
    PAID: "Thank you! We received your payment for order {number}.",
    FULFILLED: "Order {number} is packed and ready.",
    SHIPPED: "Order {number} has been shipped.",
    DELIVERED: "Order {number} has been delivered. Enjoy!",
    CANCELLED: "Order {number} has been cancelled.",
    RETURNED: "We received the return of order {number}.",
    REFUNDED: "Order {number} has been refunded.",
}


class OrderError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def get_order(session: AsyncSession, workspace_id: str, order_id: str) -> Order | None:
    order = await session.get(Order, order_id[:32])
    return order if order is not None and order.workspace_id == workspace_id else None


async def order_json(session: AsyncSession, order: Order, *, events: bool = True) -> dict[str, Any]:
    money = lambda minor: Money(minor, order.currency).to_json()  # noqa: E731
    lines = (
        await session.execute(
            select(OrderLine)
            .where(OrderLine.order_id == order.id, OrderLine.workspace_id == order.workspace_id)
            .order_by(OrderLine.position)
        )
    ).scalars()
    out: dict[str, Any] = {
        "id": order.id,
        "number": order.number,
        "contact_id": order.contact_id,
        "status": order.status,
        "currency": order.currency,
        "subtotal": money(order.subtotal_minor),
        "discount": money(order.discount_minor),
        "shipping": money(order.shipping_minor),
        "total": money(order.total_minor),
        "tax_included": money(order.tax_minor),
        "refunded": money(order.refunded_minor),
        "discount_code": order.discount_code,
        "shipping_method": order.shipping_method,
        "country": order.country,
        "shipping_address": order.shipping_address,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
        "created_at": order.created_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "lines": [
            {
                "variant_id": x.variant_id,
                "title": x.title,
                "sku": x.sku,
                "quantity": x.quantity,
                "unit_price": money(x.unit_price_minor),
                "discount": money(x.discount_minor),
                "total": money(x.total_minor),
            }
            for x in lines
        ],
    }
    if events:
        rows = await session.execute(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.workspace_id == order.workspace_id)
            .order_by(OrderEvent.created_at, OrderEvent.id)
        )
        out["events"] = [
            {
                "kind": e.kind,
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "note": e.note,
                "data": e.data,
                "at": e.created_at.isoformat(),
            }
            for e in rows.scalars()
        ]
    return out


def add_event(
    session: AsyncSession,
    order: Order,
    kind: str,
    *,
    actor: str,
    to_status: str | None = None,
    from_status: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        OrderEvent(
            workspace_id=order.workspace_id,
            order_id=order.id,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            note=note,
            data=data or {},
            created_at=now(),
        )
    )


async def change_status(
    ctx: Context,
    uow: UnitOfWork,
    order: Order,
    target: str,
    *,
    actor: str,
    note: str | None = None,
    carrier: str | None = None,
    tracking_number: str | None = None,
    notify: bool = True,
    restock: bool = True,
) -> bool:
    """Move ``order`` to ``target`` (``OrderError('invalid_transition')`` if not allowed).

    Moving to the status it already has only records new tracking details; returns whether
    anything changed.
    """
    if target not in STATES:
        raise OrderError("invalid_request", f"status: one of {', '.join(STATES)}")
    previous = order.status
    tracking_changed = (carrier and carrier != order.carrier) or (
        tracking_number and tracking_number != order.tracking_number
    )
    if target == previous and not tracking_changed:
        return False
    if target != previous and target not in TRANSITIONS[previous]:
        raise OrderError("invalid_transition", f"an order cannot go from {previous} to {target}")
    if carrier:
        order.carrier = carrier
    if tracking_number:
        order.tracking_number = tracking_number
    moment = now()
    order.status = target
    order.updated_at = moment
    if target == PAID and order.paid_at is None:
        order.paid_at = moment
    if target == CANCELLED:
        await reservations.release_order(uow.session, order.workspace_id, order.id)
    elif target in (FULFILLED, SHIPPED, DELIVERED):
        await reservations.consume_order(uow.session, order.workspace_id, order.id)
    data: dict[str, Any] = {}
    if carrier or tracking_number:
        data = {"carrier": order.carrier, "tracking_number": order.tracking_number}
    if target == RETURNED and target != previous:
        data["restocked"] = (
            await reservations.restock_order(uow.session, order.workspace_id, order.id)
            if restock
            else 0
        )
    add_event(
        uow.session,
        order,
        "status" if target != previous else "tracking",
        actor=actor,
        from_status=previous,
        to_status=target,
        note=note,
        data=data,
    )
    await emit(ctx, uow, order, f"order.{target}" if target != previous else "order.tracking")
    if notify:
        await notify_customer(ctx, uow, order, status_message(order))
    await uow.session.flush()
    return True


async def emit(ctx: Context, uow: UnitOfWork, order: Order, event: str) -> int:
    """Queue ``event`` for the workspace's fulfilment endpoints in this transaction (outbox);
    the worker sends it after commit. Returns how many deliveries were queued."""
    endpoints = await fulfilment.endpoints_for(uow.session, order.workspace_id, event)
    if not endpoints:
        return 0
    data = {"order": await order_json(uow.session, order, events=False)}
    fulfilment.enqueue(uow.session, endpoints, order_id=order.id, event=event, data=data)
    uow.on_commit(lambda: ctx.wake("commerce"))
    return len(endpoints)


def status_message(order: Order) -> Content:
    text = MESSAGES.get(order.status, "Order {number}: {status}.").format(
        number=order.number, status=order.status
    )
    if order.status == SHIPPED and order.tracking_number:
        carrier = f" ({order.carrier})" if order.carrier else ""
        text += f" Tracking number{carrier}: {order.tracking_number}."
    return Text(text=text)


def summary_content(order: Order, lines: list[OrderLine]) -> Content:
    return OrderSummary(
        kind="order",
        reference=order.number,
        currency=order.currency,
        items=[
            LineItem(title=x.title[:255], quantity=x.quantity, unit_price=x.unit_price_minor)
            for x in lines
        ],
        shipping=order.shipping_minor,
        discount=order.discount_minor,
        total=order.total_minor,
        status=order.status,
    )


async def customer_language(session: AsyncSession, order: Order) -> str | None:
    """The language of the contact's latest conversation (None when not known)."""
    language: str | None = await session.scalar(
        select(Conversation.language)
        .where(
            Conversation.workspace_id == order.workspace_id,
            Conversation.contact_id == order.contact_id,
        )
        .order_by(Conversation.created_at.desc())
        .limit(1)
    )
    return language


async def notify_customer(ctx: Context, uow: UnitOfWork, order: Order, content: Content) -> bool:
    """Queue ``content`` on the contact's latest conversation (its last channel); False if the
    contact has never written on any channel."""
    session = uow.session
    latest = await session.scalar(
        select(Conversation)
        .where(
            Conversation.workspace_id == order.workspace_id,
            Conversation.contact_id == order.contact_id,
            Conversation.last_connection_id.is_not(None),
        )
        .order_by(Conversation.created_at.desc())
        .limit(1)
    )
    if latest is None or latest.last_connection_id is None:
        return False
    connection = await ctx.connections.get(latest.last_connection_id)
    if connection is None:
        return False
    conversation = latest
    if latest.closed_at is not None:
        conversation = await open_conversation(
            uow, ctx.bus, workspace_id=order.workspace_id, contact_id=order.contact_id
        )
        conversation.last_connection_id = connection.id
    adapter = ctx.channels.get(connection.type)
    key = (order.contact_id, connection.id)
    recipient = (await recipients(session, {key})).get(key)
    for part in degrade(content, adapter.manifest.capabilities):
        await queue_outbound(
            uow,
            ctx.bus,
            conversation,
            part,
            sender="system",
            connection_id=connection.id,
            channel_type=connection.type,
            recipient=recipient,
        )
    uow.on_commit(lambda: ctx.wake("dispatch"))
    return True
