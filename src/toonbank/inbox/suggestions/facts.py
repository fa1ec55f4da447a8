"""The customer's facts at the moment a reply is suggested: contact, open cart, latest order.

Read fresh on every computation (never cached): a suggestion quoting a tracking number must
quote the one the order has now. Everything is scoped to the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce.money import Money, MoneyError
from toonbank.models import Agent, Cart, CartLine, Contact, Order


@dataclass(slots=True)
class Facts:
    values: dict[str, str] = field(default_factory=dict)
    order: dict[str, Any] | None = None
    cart: dict[str, Any] | None = None


def _money(minor: int, currency: str | None) -> str:
    try:
        return str(Money(int(minor), currency or "EUR"))
    except MoneyError:
        return f"{minor} {currency or ''}".strip()


async def read_facts(
    session: AsyncSession, workspace_id: str, contact_id: str, agent: Agent | None
) -> Facts:
    facts = Facts()
    values = facts.values
    if agent is not None and agent.workspace_id == workspace_id:
        name = agent.display_name or ""
        values["agent.name"] = name
        values["agent.first_name"] = name.split(" ")[0] if name else ""
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != workspace_id:
        return facts
    if contact.display_name:
        values["contact.name"] = contact.display_name
        values["contact.first_name"] = contact.display_name.split(" ")[0]
    order = await session.scalar(
        select(Order)
        .where(Order.workspace_id == workspace_id, Order.contact_id == contact_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    )
    if order is not None:
        total = _money(order.total_minor, order.currency)
        values.update(
            {
                "order.number": order.number,
                "order.status": order.status,
                "order.carrier": order.carrier or "",
                "order.tracking_number": order.tracking_number or "",
                "order.total": total,
            }
        )
        facts.order = {
            "type": "order",
            "id": order.id,
            "number": order.number,
            "status": order.status,
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "total": total,
        }
    cart = await session.scalar(
        select(Cart)
        .where(
            Cart.workspace_id == workspace_id,
            Cart.contact_id == contact_id,
            Cart.status == "open",
        )
        .order_by(Cart.updated_at.desc())
        .limit(1)
    )
    if cart is not None:
        items, subtotal = (
            await session.execute(
                select(
                    func.coalesce(func.sum(CartLine.quantity), 0),
                    func.coalesce(func.sum(CartLine.quantity * CartLine.unit_price_minor), 0),
                ).where(CartLine.cart_id == cart.id, CartLine.workspace_id == workspace_id)
            )
        ).one()
        if items:
            total = _money(int(subtotal), cart.currency)
            values.update({"cart.items": str(int(items)), "cart.total": total})
            facts.cart = {"type": "cart", "id": cart.id, "items": int(items), "total": total}
    return facts
