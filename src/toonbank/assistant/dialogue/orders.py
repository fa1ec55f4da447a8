"""After the sale: order status and tracking, cancel and change within the rules, returns and
refunds. Every fact is read from the contact's own order record at this moment; an order
number of another contact is "not found" (never confirmed to exist).

    order_status | change_order | cancel_order | return_request | refund_status
        → (ask_number | choose order) → answer
    cancel: pending → confirm_cancel ─yes→ cancelled; paid/fulfilled → a person; later → refused
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.dialogue import grounded
from toonbank.assistant.dialogue.knowledge import KnowledgeSearch
from toonbank.assistant.dialogue.state import ORDER
from toonbank.assistant.dialogue.talk import Talk
from toonbank.channels.content import LineItem, OrderSummary, Text
from toonbank.commerce import orders as order_rules
from toonbank.db.uow import UnitOfWork
from toonbank.knowledge.retrieval import KnowledgeHit
from toonbank.models import Order, OrderLine

NUMBER = re.compile(r"\b(TB-[0-9A-F]{8})\b", re.I)
ACTIONS = ("order_status", "change_order", "cancel_order", "return_request", "refund_status")
CHANGEABLE = (order_rules.PENDING, order_rules.PAID)
RETURNABLE = (order_rules.SHIPPED, order_rules.DELIVERED)


def numbers_in(talk: Talk) -> list[str]:
    found = [m.upper() for m in NUMBER.findall(talk.text)]
    found += [str(n).upper() for n in talk.entities.get("order_number", [])]
    return list(dict.fromkeys(found))


async def _by_number(session: AsyncSession, talk: Talk, number: str) -> Order | None:
    return await session.scalar(
        select(Order).where(
            Order.workspace_id == talk.workspace_id,
            Order.contact_id == talk.contact_id,
            Order.number == number[:32],
        )
    )


async def _latest(session: AsyncSession, talk: Talk, limit: int = 3) -> list[Order]:
    rows = await session.execute(
        select(Order)
        .where(Order.workspace_id == talk.workspace_id, Order.contact_id == talk.contact_id)
        .order_by(Order.created_at.desc(), Order.id)
        .limit(limit)
    )
    return list(rows.scalars())


POLICY_ACTIONS = ("return_request", "refund_status", "change_order", "cancel_order")


async def handle(
    talk: Talk, action: str, order_id: str | None = None, knowledge: KnowledgeSearch | None = None
) -> None:
    """Find the order (number in the message, a chosen one, or the only recent one), then act.

    With ``knowledge``, a policy question ("how do returns work?") from a customer without a
    recent order is first answered from the business's article, with its source (through the
    generative layer when it is on: after the transaction, so no connection waits on a model)."""
    at = len(talk.replies)
    async with talk.ctx.db.uow() as uow:
        policy = await _find_and_act(talk, uow, action, order_id, knowledge)
    if policy:
        reply = await grounded.knowledge_reply(talk, policy)
        talk.replies.insert(at, Text(text=reply[:4096]))


async def _find_and_act(
    talk: Talk,
    uow: UnitOfWork,
    action: str,
    order_id: str | None,
    knowledge: KnowledgeSearch | None,
) -> Sequence[KnowledgeHit]:
    """:func:`handle` inside its transaction; the knowledge hits that answer a policy question
    of a customer without recent orders (to be said before "what is your order number?")."""
    session = uow.session
    order: Order | None = None
    if order_id:
        order = await session.get(Order, order_id[:32])
        if order is not None and (
            order.workspace_id != talk.workspace_id or order.contact_id != talk.contact_id
        ):
            order = None
    else:
        numbers = numbers_in(talk) or (
            [str(talk.state.slots["order"])] if talk.state.slots.get("order") else []
        )
        if numbers:
            order = await _by_number(session, talk, numbers[0])
            if order is None:
                talk.say("order_not_found", number=numbers[0])
                _wait_for_number(talk, action)
                return ()
        else:
            recent = await _latest(session, talk)
            if not recent:
                hits: Sequence[KnowledgeHit] = ()
                if knowledge is not None and action in POLICY_ACTIONS:
                    limit = grounded.knowledge_limit(talk)
                    hits = await knowledge(
                        session, talk.workspace_id, talk.text, talk.language, limit
                    )
                talk.say("ask_order")
                _wait_for_number(talk, action)
                return hits
            if len(recent) > 1:
                talk.ask(
                    talk.t("which_order"),
                    [
                        (
                            f"{o.number} ({talk.money(o.total_minor, o.currency)})",
                            f"order:{action}:{o.id}",
                        )
                        for o in recent
                    ],
                )
                talk.state.flow, talk.state.step = ORDER, "choose_order"
                return ()
            order = recent[0]
    if order is None:
        talk.say("ask_order")
        _wait_for_number(talk, action)
        return ()
    talk.state.slots = {"order": order.number}
    talk.state.flow, talk.state.step = "idle", None
    await _act(talk, uow, order, action)
    return ()


def _wait_for_number(talk: Talk, action: str) -> None:
    talk.state.flow, talk.state.step = ORDER, "ask_number"
    talk.state.slots = {"action": action}


def _status(talk: Talk, order: Order) -> str:
    return talk.t(f"status_{order.status}") if order.status in order_rules.STATES else order.status


async def _summary(session: AsyncSession, order: Order) -> OrderSummary | None:
    lines = (
        (
            await session.execute(
                select(OrderLine)
                .where(OrderLine.order_id == order.id, OrderLine.workspace_id == order.workspace_id)
                .order_by(OrderLine.position)
            )
        )
        .scalars()
        .all()
    )
    if not lines:
        return None
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


async def _act(talk: Talk, uow: UnitOfWork, order: Order, action: str) -> None:
    number, status = order.number, _status(talk, order)
    total = talk.money(order.total_minor, order.currency)
    if action == "order_status":
        text = talk.t("order_status", number=number, status=status)
        if order.tracking_number:
            text += " " + talk.t(
                "order_tracking", carrier=order.carrier or "-", tracking=order.tracking_number
            )
        talk.text_reply(text)
        summary = await _summary(uow.session, order)
        if summary is not None:
            talk.replies.append(summary)
    elif action == "cancel_order":
        if order.status == order_rules.PENDING:
            talk.state.flow, talk.state.step = ORDER, "confirm_cancel"
            talk.state.slots = {"order_id": order.id, "order": number}
            talk.ask(
                talk.t("confirm_cancel", number=number, total=total),
                [(talk.t("opt_yes"), "confirm:yes"), (talk.t("opt_no"), "confirm:no")],
            )
        elif order_rules.CANCELLED in order_rules.TRANSITIONS[order.status]:
            talk.replies.append(Text(text=talk.t("cancel_needs_person", number=number)))
            talk.hand_over(f"cancel paid order {number}")
        else:
            talk.say("cannot_cancel", number=number, status=status)
    elif action == "change_order":
        if order.status in CHANGEABLE:
            talk.replies.append(Text(text=talk.t("change_needs_person", number=number)))
            talk.hand_over(f"change order {number}")
        else:
            talk.say("cannot_change", number=number, status=status)
    elif action == "return_request":
        if order.status in RETURNABLE:
            talk.say("return_how", number=number)
        else:
            waiting = order.status in (*CHANGEABLE, order_rules.FULFILLED)
            talk.say("return_not_yet" if waiting else "order_status", number=number, status=status)
    elif action == "refund_status":
        if order.refunded_minor > 0:
            talk.say(
                "refund_done",
                number=number,
                amount=talk.money(order.refunded_minor, order.currency),
            )
        else:
            talk.say("refund_none", number=number)


async def confirm_cancel(talk: Talk, yes: bool) -> None:
    order_id = str(talk.state.slots.get("order_id", ""))
    number = str(talk.state.slots.get("order", ""))
    talk.state.flow, talk.state.step = "idle", None
    if not yes:
        talk.say("cancel_kept", number=number)
        return
    async with talk.ctx.db.uow() as uow:
        order = await uow.session.get(Order, order_id[:32])
        if (
            order is None
            or order.workspace_id != talk.workspace_id
            or order.contact_id != talk.contact_id
        ):
            talk.say("ask_order")
            return
        try:
            await order_rules.change_status(
                talk.ctx, uow, order, order_rules.CANCELLED, actor="assistant", notify=False
            )
        except order_rules.OrderError:
            talk.say("cannot_cancel", number=order.number, status=_status(talk, order))
            return
        talk.say("cancelled", number=order.number)
