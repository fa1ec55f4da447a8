"""Cart and checkout: add a variant, show the cart, choose a shipping method, pay by link.

    results ─add→ (ask_variant) → added ─checkout→ ask_shipping ─ship:<code>→ order + payment link

Prices are the cart's captured prices and the order's totals as the commerce core computes
them; checkout re-checks prices and stock (a change is reported, never hidden).
"""

from __future__ import annotations

from typing import Any

from toonbank.assistant.dialogue import products
from toonbank.assistant.dialogue.state import CHECKOUT
from toonbank.assistant.dialogue.talk import Talk
from toonbank.channels.content import LineItem, OrderSummary, PaymentLink
from toonbank.commerce import carts
from toonbank.commerce.payments.service import create_payment
from toonbank.commerce.shipping import methods_for, quote
from toonbank.models import Cart, ProductVariant


async def add_variant(talk: Talk, variant_id: str, quantity: int = 1) -> None:
    async with talk.ctx.db.uow() as uow:
        session = uow.session
        variant = await session.get(ProductVariant, variant_id[:32])
        if variant is None or variant.workspace_id != talk.workspace_id:
            talk.say("which_product")
            return
        found = await products.load(session, talk.workspace_id, variant.product_id)
        title = products.title_of(found[0], talk.language) if found else variant.title
        cart = await carts.open_cart(session, talk.workspace_id, talk.contact_id)
        lines = await carts.lines_of(session, cart)
        existing = next((x.quantity for x in lines if x.variant_id == variant.id), 0)
        try:
            await carts.set_line(session, cart, variant.id, existing + quantity)
        except carts.CartError:
            talk.say("add_failed", title=title)
            return
        lines = await carts.lines_of(session, cart)
        totals = await carts.totals(session, cart, lines)
        unit = carts.current_price(variant)
        talk.state.focus = variant.product_id
        talk.ask(
            talk.t(
                "added",
                quantity=quantity,
                title=f"{title} ({products.variant_name(variant)})",
                price=talk.money(unit.minor, unit.currency),
                total=talk.money(totals.total.minor, totals.currency),
            ),
            [(talk.t("opt_checkout"), "cart:checkout"), (talk.t("opt_continue"), "cart:continue")],
        )
        _check_value(talk, cart, totals.total.minor)


def _check_value(talk: Talk, cart: Cart, total: int) -> None:
    """Business rule: a cart at or above the configured total goes to a person (once)."""
    rule = f"cart_value:{cart.id}"
    if total >= talk.policy.cart_total and rule not in talk.state.handover_rules_done:
        talk.state.handover_rules_done.append(rule)
        talk.hand_over("high-value cart", "handover_value")


async def add_from_text(talk: Talk) -> None:
    """ "I'll take the blue one in M": the product in focus (or the only one shown)."""
    product_id = talk.state.focus or (talk.state.shown[0] if len(talk.state.shown) == 1 else None)
    if product_id is None:
        if talk.state.shown:
            await ask_product(talk)
        else:
            talk.say("which_product")
        return
    await add_product(talk, product_id)


async def ask_product(talk: Talk) -> None:
    async with talk.ctx.db.session() as session:
        options = []
        for pid in talk.state.shown[:5]:
            found = await products.load(session, talk.workspace_id, pid)
            if found is not None:
                options.append((products.title_of(found[0], talk.language)[:80], f"info:{pid}"))
    if options:
        talk.ask(talk.t("which_product"), options)
    else:
        talk.say("which_product")


async def add_product(talk: Talk, product_id: str) -> None:
    slots = talk.state.slots
    size = _first(talk.entities.get("size")) or slots.get("size")
    colour = _first(talk.entities.get("colour")) or slots.get("colour")
    async with talk.ctx.db.session() as session:
        found = await products.load(session, talk.workspace_id, product_id)
        if found is None:
            talk.say("which_product")
            return
        product, variants = found
        candidates = products.matching(variants, size, colour) or products.matching(
            variants, size, None
        )
        stocked = [
            v for v in candidates if await carts.sellable(session, talk.workspace_id, v) != 0
        ]
    if len(stocked) == 1 or (stocked and size):
        await add_variant(talk, stocked[0].id, int(talk.entities.get("quantity") or 1))
        return
    choices = stocked or [v for v in variants if v.size]
    title = products.title_of(product, talk.language)
    talk.ask(
        talk.t("ask_variant", title=title),
        [
            (", ".join(x for x in (v.colour, v.size) if x)[:80] or v.id, f"add:{v.id}")
            for v in choices[:10]
        ],
    )


def _first(value: Any) -> str | None:
    if isinstance(value, list) and value:
        return str(value[0])
    return None


async def show_cart(talk: Talk) -> Cart | None:
    """The cart as an order summary; ``None`` (and a message) when it is empty."""
    async with talk.ctx.db.uow() as uow:
        cart = await carts.open_cart(uow.session, talk.workspace_id, talk.contact_id)
        lines = await carts.lines_of(uow.session, cart)
        if not lines:
            talk.say("cart_empty")
            return None
        totals = await carts.totals(uow.session, cart, lines)
        talk.replies.append(
            OrderSummary(
                kind="cart",
                currency=totals.currency,
                items=[
                    LineItem(
                        title=x.title[:255], quantity=x.quantity, unit_price=x.unit_price_minor
                    )
                    for x in lines
                ],
                shipping=totals.shipping.minor,
                discount=totals.discount.minor,
                total=totals.total.minor,
            )
        )
        return cart


async def start_checkout(talk: Talk) -> None:
    cart = await show_cart(talk)
    if cart is None:
        talk.state.flow, talk.state.step = "idle", None
        return
    async with talk.ctx.db.session() as session:
        lines = await carts.lines_of(session, cart)
        totals = await carts.totals(session, cart, lines)
        methods = await methods_for(session, talk.workspace_id, cart.country)
        options = []
        for method in methods:
            price = quote(method, totals.subtotal)
            options.append(
                (
                    f"{method.name} {talk.money(price.minor, price.currency)}"[:80],
                    f"ship:{method.code}",
                )
            )
    talk.state.flow, talk.state.step = CHECKOUT, "ask_shipping"
    talk.ask(talk.t("ask_shipping"), options)
    _check_value(talk, cart, totals.total.minor)


async def choose_shipping(talk: Talk, code: str) -> None:
    """Set the shipping method, check out and send the payment link."""
    async with talk.ctx.db.uow() as uow:
        session = uow.session
        cart = await carts.open_cart(session, talk.workspace_id, talk.contact_id)
        methods = {m.code: m for m in await methods_for(session, talk.workspace_id)}
        method = methods.get(code)
        if method is None:
            talk.state.step = None
            await start_checkout(talk)
            return
        country = cart.country or (method.countries[0] if method.countries else None)
        try:
            await carts.update_cart(
                session, cart, shipping_method=code, country=country,
                fields={"shipping_method", "country"},
            )  # fmt: skip
            order = await carts.checkout(session, cart, actor="assistant")
        except carts.CheckoutRefused as refused:
            problems = "; ".join(p.detail for p in refused.problems)
            talk.ask(
                talk.t("checkout_changed", problems=problems),
                [
                    (talk.t("opt_checkout"), "cart:checkout"),
                    (talk.t("opt_continue"), "cart:continue"),
                ],
            )
            talk.state.step = None
            return
        except carts.CartError:
            talk.state.flow, talk.state.step = "idle", None
            talk.say("cart_empty")
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
                text=talk.t("payment_link", number=order.number, total=total),
                expires_at=payment.expires_at.isoformat() if payment.expires_at else None,
            )
        )
        talk.state.slots = {"order": order.number}
    talk.state.flow, talk.state.step = "idle", None
