"""Service answers: delivery options and dates, stores (open now, near a place, stock there),
payment problems, opt-out and knowledge articles. Read from the commerce data at this moment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.dialogue import grounded, products
from toonbank.assistant.dialogue.knowledge import KnowledgeSearch
from toonbank.assistant.dialogue.talk import Talk
from toonbank.channels.content import PaymentLink
from toonbank.commerce.orders import PENDING
from toonbank.commerce.payments.service import create_payment
from toonbank.commerce.shipping import Schedule, methods_for
from toonbank.commerce.stores import find_stores
from toonbank.models import Contact, Order

STORES_SHOWN = 4


def _day(value: str) -> str:
    return datetime.fromisoformat(value).strftime("%d-%m")


async def delivery(talk: Talk, knowledge: KnowledgeSearch) -> None:
    async with talk.ctx.db.session() as session:
        methods = await methods_for(session, talk.workspace_id)
        lines = [talk.t("delivery_intro")]
        for method in methods:
            estimate = Schedule.of(method).estimate(talk.at)
            price = talk.money(method.price_minor, method.currency)
            early, late = estimate.earliest.strftime("%d-%m"), estimate.latest.strftime("%d-%m")
            key = "delivery_line" if early == late else "delivery_range"
            line = "- " + talk.t(key, name=method.name, price=price, earliest=early, latest=late)
            if method.free_over_minor is not None:
                free = talk.money(method.free_over_minor, method.currency)
                line += " " + talk.t("delivery_free", amount=free)
            lines.append(line)
        limit = grounded.knowledge_limit(talk)
        hits = await knowledge(session, talk.workspace_id, talk.text, talk.language, limit)
    if len(lines) > 1:
        talk.text_reply("\n".join(lines))  # prices and dates: always the shop's own data
    if hits:
        await grounded.answer(talk, hits)
    elif len(lines) == 1:
        talk.say("knowledge_none")


async def stores(talk: Talk) -> None:
    places = [str(p) for p in talk.entities.get("place", [])]
    async with talk.ctx.db.session() as session:
        variant_id = await _stock_question(talk, session)
        if variant_id is not None:
            found = await find_stores(
                session, talk.workspace_id, at=talk.at, variant_id=variant_id[0]
            )
            cities = {p.casefold() for p in places}
            found = [s for s in found if (s["city"] or "").casefold() in cities] or found
            if found:
                for store in found[:STORES_SHOWN]:
                    talk.say(
                        "store_stock", name=store["name"], title=variant_id[1], count=store["stock"]
                    )
            else:
                talk.say("store_no_stock", title=variant_id[1])
            return
        found = []
        for place in places:
            found = await find_stores(session, talk.workspace_id, at=talk.at, city=place)
            if found:
                break
        if not found:
            found = await find_stores(session, talk.workspace_id, at=talk.at)
    lines = []
    for store in sorted(found, key=lambda s: not s["status"]["open"])[:STORES_SHOWN]:
        status = store["status"]
        values = {
            "name": store["name"],
            "address": store["address"] or "",
            "city": store["city"] or "",
        }
        if status["open"]:
            lines.append(talk.t("store_open", closes=status["closes_at"][11:16], **values))
        elif status["next_opening"]:
            opens = f"{_day(status['next_opening'])} {status['next_opening'][11:16]}"
            lines.append(talk.t("store_closed", opens=opens, **values))
    talk.text_reply("\n".join(lines) or talk.t("knowledge_none"))


async def _stock_question(talk: Talk, session: AsyncSession) -> tuple[str, str] | None:
    """(variant id, readable name) when the customer asks about stock of the product in focus."""

    if talk.state.focus is None:
        return None
    sizes = talk.entities.get("size") or (
        [talk.state.slots["size"]] if talk.state.slots.get("size") else []
    )
    if not sizes:
        return None
    found = await products.load(session, talk.workspace_id, talk.state.focus)
    if found is None:
        return None
    product, variants = found
    colour = talk.state.slots.get("colour")
    match = products.matching(variants, str(sizes[0]), colour) or products.matching(
        variants, str(sizes[0]), None
    )
    if not match:
        return None
    variant = match[0]
    name = f"{products.title_of(product, talk.language)} ({products.variant_name(variant)})"
    return variant.id, name


async def payment_problem(talk: Talk) -> None:
    """A new payment link for the contact's latest unpaid order; otherwise a person helps."""
    async with talk.ctx.db.uow() as uow:
        order = await uow.session.scalar(
            select(Order)
            .where(
                Order.workspace_id == talk.workspace_id,
                Order.contact_id == talk.contact_id,
                Order.status == PENDING,
            )
            .order_by(Order.created_at.desc())
            .limit(1)
        )
        if order is None:
            talk.hand_over("payment problem", "payment_help")
            return
        payment = await create_payment(
            talk.ctx, uow, order, provider=talk.policy.payment_provider, send=False
        )
        total = talk.money(order.total_minor, order.currency)
        talk.replies.append(
            PaymentLink(
                url=payment.url or "",
                amount=order.total_minor,
                currency=order.currency,
                text=talk.t("payment_retry", number=order.number, total=total),
            )
        )


async def opt_out(talk: Talk) -> None:
    """No more messages from the shop: remembered on the contact, the conversation closes."""
    async with talk.ctx.db.uow() as uow:
        contact = await uow.session.get(Contact, talk.contact_id)
        if contact is not None and contact.workspace_id == talk.workspace_id:
            contact.attributes = {**(contact.attributes or {}), "marketing_opt_out": True}
    talk.say("opted_out")
    talk.close = "customer opted out"


async def knowledge_answer(talk: Talk, knowledge: KnowledgeSearch) -> bool:
    """Answer from a knowledge article when one matches; False when none does."""
    async with talk.ctx.db.session() as session:
        limit = grounded.knowledge_limit(talk)
        hits = await knowledge(session, talk.workspace_id, talk.text, talk.language, limit)
    if not hits:
        return False
    await grounded.answer(talk, hits)
    return True
