"""Carts: a contact's lines, discount code, shipping and checkout into a pending order.

A cart belongs to a contact, not to a channel. Each line captures the variant's unit price (the
sale price when there is one) in minor units when it is added. Checkout re-reads every variant:
a changed price or missing stock refuses the checkout with the list of problems (and takes the
new prices, so the customer can confirm and check out again). A successful checkout holds
the stock (``reservations.py``). Never commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce import reservations
from toonbank.commerce.money import Money
from toonbank.commerce.pricing import Discount, PricingError, Totals, price
from toonbank.commerce.shipping import quote
from toonbank.kit.clock import now
from toonbank.models import (
    Cart,
    CartLine,
    Contact,
    DiscountCode,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    ProductVariant,
    ShippingMethod,
    StockLevel,
    TaxRate,
)

OPEN = "open"
CHECKED_OUT = "checked_out"
MAX_QUANTITY = 999
MAX_LINES = 100


class CartError(ValueError):
    """A request the cart cannot honour; ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Problem:
    variant_id: str
    code: str  # price_changed | out_of_stock | unavailable
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"variant_id": self.variant_id, "code": self.code, "detail": self.detail}


class CheckoutRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.detail for p in problems))
        self.problems = problems


# -- reading -------------------------------------------------------------------------------


async def get_cart(session: AsyncSession, workspace_id: str, cart_id: str) -> Cart | None:
    cart = await session.get(Cart, cart_id[:32])
    return cart if cart is not None and cart.workspace_id == workspace_id else None


async def open_cart(session: AsyncSession, workspace_id: str, contact_id: str) -> Cart:
    """The contact's open cart, or a new one (``CartError('not_found')`` for a foreign contact)."""
    contact = await session.get(Contact, contact_id[:32])
    if contact is None or contact.workspace_id != workspace_id:
        raise CartError("not_found", "no such contact in this workspace")
    found = await session.execute(
        select(Cart)
        .where(
            Cart.workspace_id == workspace_id,
            Cart.contact_id == contact.id,
            Cart.status == OPEN,
        )
        .order_by(Cart.created_at.desc())
        .limit(1)
    )
    cart = found.scalar_one_or_none()
    if cart is None:
        cart = Cart(workspace_id=workspace_id, contact_id=contact.id, status=OPEN)
        session.add(cart)
        await session.flush()
    return cart


async def lines_of(session: AsyncSession, cart: Cart) -> list[CartLine]:
    rows = await session.execute(
        select(CartLine)
        .where(CartLine.cart_id == cart.id, CartLine.workspace_id == cart.workspace_id)
        .order_by(CartLine.added_at, CartLine.id)
    )
    return list(rows.scalars())


async def sellable(session: AsyncSession, workspace_id: str, variant: ProductVariant) -> int | None:
    """Units that can be sold (quantity - reserved over all locations); ``None`` = not tracked."""
    row = await session.execute(
        select(
            func.count(StockLevel.id), func.sum(StockLevel.quantity - StockLevel.reserved)
        ).where(StockLevel.workspace_id == workspace_id, StockLevel.variant_id == variant.id)
    )
    count, total = row.one()
    if not count:
        return None if variant.availability == "in_stock" else 0
    return max(int(total or 0), 0)


def current_price(variant: ProductVariant) -> Money:
    minor = (
        variant.sale_price_minor if variant.sale_price_minor is not None else variant.price_minor
    )
    return Money(minor, variant.currency)


async def _variant(session: AsyncSession, workspace_id: str, variant_id: str) -> ProductVariant:
    variant = await session.get(ProductVariant, variant_id[:32])
    if variant is None or variant.workspace_id != workspace_id:
        raise CartError("not_found", "no such variant in this workspace")
    return variant


async def _buyable(session: AsyncSession, variant: ProductVariant) -> bool:
    product = await session.get(Product, variant.product_id)
    return bool(variant.published and product is not None and product.published)


async def tax_rate(session: AsyncSession, workspace_id: str, country: str | None) -> int:
    if not country:
        return 0
    rate = await session.scalar(
        select(TaxRate.rate_bp).where(
            TaxRate.workspace_id == workspace_id, TaxRate.country == country.upper()
        )
    )
    return int(rate or 0)


async def discount_for(
    session: AsyncSession, workspace_id: str, code: str, at: datetime | None = None
) -> tuple[DiscountCode, Discount]:
    """The usable discount behind ``code`` (case-insensitive) or ``CartError``."""
    row = await session.scalar(
        select(DiscountCode).where(
            DiscountCode.workspace_id == workspace_id, DiscountCode.code == code.strip().upper()
        )
    )
    at = at or now()
    if (
        row is None
        or not row.active
        or (row.starts_at is not None and at < row.starts_at)
        or (row.ends_at is not None and at >= row.ends_at)
        or (row.max_uses is not None and row.uses >= row.max_uses)
    ):
        raise CartError("invalid_discount", "this discount code is not valid")
    minimum = (
        Money(row.min_subtotal_minor, row.currency or "EUR")
        if row.min_subtotal_minor is not None
        else None
    )
    if row.kind == "percent":
        return row, Discount("percent", percent_bp=row.percent_bp or 0, min_subtotal=minimum)
    assert row.amount_minor is not None and row.currency is not None
    return row, Discount(
        "fixed", amount=Money(row.amount_minor, row.currency), min_subtotal=minimum
    )


async def _shipping(session: AsyncSession, cart: Cart) -> ShippingMethod | None:
    if not cart.shipping_method:
        return None
    return await session.scalar(
        select(ShippingMethod).where(
            ShippingMethod.workspace_id == cart.workspace_id,
            ShippingMethod.code == cart.shipping_method,
        )
    )


async def totals(session: AsyncSession, cart: Cart, lines: list[CartLine]) -> Totals:
    """The cart's totals from the captured prices, its discount code, shipping and VAT rate."""
    currency = cart.currency or (lines[0].currency if lines else "EUR")
    discount = None
    if cart.discount_code:
        try:
            _row, discount = await discount_for(session, cart.workspace_id, cart.discount_code)
        except CartError:
            discount = None  # expired since it was applied: not applied any more
    subtotal = sum(
        (Money(x.unit_price_minor, x.currency) * x.quantity for x in lines), Money.zero(currency)
    )
    shipping = None
    method = await _shipping(session, cart)
    if method is not None and method.currency == currency:
        off = discount.off(subtotal) if discount is not None else Money.zero(currency)
        shipping = quote(method, subtotal - off)
    rate = await tax_rate(session, cart.workspace_id, cart.country)
    try:
        return price(
            [(Money(x.unit_price_minor, x.currency), x.quantity) for x in lines],
            currency=currency,
            discount=discount,
            shipping=shipping,
            tax_rate_bp=rate,
        )
    except PricingError as exc:
        raise CartError("invalid_cart", str(exc)) from None


async def cart_json(session: AsyncSession, cart: Cart) -> dict[str, Any]:
    lines = await lines_of(session, cart)
    sums = await totals(session, cart, lines)
    return {
        "id": cart.id,
        "contact_id": cart.contact_id,
        "status": cart.status,
        "currency": sums.currency,
        "discount_code": cart.discount_code,
        "shipping_method": cart.shipping_method,
        "country": cart.country,
        "shipping_address": cart.shipping_address,
        "lines": [
            {
                "variant_id": line.variant_id,
                "title": line.title,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": Money(line.unit_price_minor, line.currency).to_json(),
                "discount": t.discount.to_json(),
                "total": t.net.to_json(),
            }
            for line, t in zip(lines, sums.lines, strict=True)
        ],
        **sums.to_json(),
    }


# -- writing -------------------------------------------------------------------------------


def _require_open(cart: Cart) -> None:
    if cart.status != OPEN:
        raise CartError("cart_closed", "this cart has been checked out")


async def set_line(session: AsyncSession, cart: Cart, variant_id: str, quantity: int) -> None:
    """Put ``quantity`` of a variant in the cart (0 removes it), capturing today's price."""
    _require_open(cart)
    if not 0 <= quantity <= MAX_QUANTITY:
        raise CartError("invalid_request", f"quantity is between 0 and {MAX_QUANTITY}")
    variant = await _variant(session, cart.workspace_id, variant_id)
    lines = await lines_of(session, cart)
    line = next((x for x in lines if x.variant_id == variant.id), None)
    if quantity == 0:
        if line is not None:
            await session.delete(line)
        cart.updated_at = now()
        await session.flush()
        return
    if not await _buyable(session, variant):
        raise CartError("unavailable", "this item is not for sale")
    unit = current_price(variant)
    currencies = {x.currency for x in lines if x is not line}
    if currencies and unit.currency not in currencies:
        raise CartError("currency_mismatch", f"the cart is in {', '.join(sorted(currencies))}")
    available = await sellable(session, cart.workspace_id, variant)
    if available is not None and available < quantity:
        raise CartError("out_of_stock", f"only {available} left")
    if line is None:
        if len(lines) >= MAX_LINES:
            raise CartError("invalid_request", f"a cart holds at most {MAX_LINES} lines")
        line = CartLine(workspace_id=cart.workspace_id, cart_id=cart.id, variant_id=variant.id)
        session.add(line)
    line.quantity = quantity
    line.unit_price_minor = unit.minor
    line.currency = unit.currency
    line.title = variant.title
    line.sku = variant.sku
    cart.currency = unit.currency
    cart.updated_at = now()
    await session.flush()


async def update_cart(
    session: AsyncSession,
    cart: Cart,
    *,
    discount_code: str | None = None,
    shipping_method: str | None = None,
    country: str | None = None,
    shipping_address: dict[str, Any] | None = None,
    fields: set[str],
) -> None:
    """Change the fields named in ``fields`` (a ``None`` in them clears the value)."""
    _require_open(cart)
    if "discount_code" in fields:
        if discount_code:
            await discount_for(session, cart.workspace_id, discount_code)
            cart.discount_code = discount_code.strip().upper()
        else:
            cart.discount_code = None
    if "shipping_method" in fields:
        if shipping_method:
            method = await session.scalar(
                select(ShippingMethod).where(
                    ShippingMethod.workspace_id == cart.workspace_id,
                    ShippingMethod.code == shipping_method,
                    ShippingMethod.active.is_(True),
                )
            )
            if method is None:
                raise CartError("not_found", "no such shipping method in this workspace")
        cart.shipping_method = shipping_method or None
    if "country" in fields:
        cart.country = country.upper() if country else None
    if "shipping_address" in fields:
        cart.shipping_address = dict(shipping_address or {})
        if not cart.country and cart.shipping_address.get("country"):
            cart.country = str(cart.shipping_address["country"]).upper()[:2]
    if cart.shipping_method and cart.country:
        method = await _shipping(session, cart)
        if method is not None and method.countries and cart.country not in method.countries:
            raise CartError("invalid_request", f"{method.code} does not ship to {cart.country}")
    cart.updated_at = now()
    await session.flush()


def order_number() -> str:
    return "TB-" + secrets.token_hex(4).upper()


async def checkout(session: AsyncSession, cart: Cart, *, actor: str) -> Order:
    """Re-check prices and stock, then freeze the cart into a ``pending`` order."""
    _require_open(cart)
    lines = await lines_of(session, cart)
    if not lines:
        raise CartError("empty_cart", "the cart is empty")
    problems: list[Problem] = []
    for line in lines:
        variant = await session.get(ProductVariant, line.variant_id)
        if variant is None or not await _buyable(session, variant):
            problems.append(Problem(line.variant_id, "unavailable", f"{line.title}: not for sale"))
            continue
        unit = current_price(variant)
        if (unit.minor, unit.currency) != (line.unit_price_minor, line.currency):
            before = Money(line.unit_price_minor, line.currency)
            problems.append(
                Problem(line.variant_id, "price_changed", f"{line.title}: {before} is now {unit}")
            )
            line.unit_price_minor, line.currency = unit.minor, unit.currency
        available = await sellable(session, cart.workspace_id, variant)
        if available is not None and available < line.quantity:
            problems.append(
                Problem(line.variant_id, "out_of_stock", f"{line.title}: only {available} left")
            )
    if not cart.shipping_method:
        problems.append(Problem("", "no_shipping_method", "choose a shipping method"))
    if problems:
        await session.flush()
        raise CheckoutRefused(problems)
    sums = await totals(session, cart, lines)
    try:  # hold the stock now: two customers can never both buy the last one
        holds = await reservations.hold(
            session, cart.workspace_id, [(x.variant_id, x.quantity) for x in lines]
        )
    except reservations.OutOfStock as exc:
        line = next(x for x in lines if x.variant_id == exc.variant_id)
        await session.flush()
        raise CheckoutRefused(
            [Problem(exc.variant_id, "out_of_stock", f"{line.title}: only {exc.available} left")]
        ) from None
    if cart.discount_code and sums.discount.minor:
        row, _discount = await discount_for(session, cart.workspace_id, cart.discount_code)
        row.uses += 1
    moment = now()
    order = Order(
        workspace_id=cart.workspace_id,
        contact_id=cart.contact_id,
        cart_id=cart.id,
        number=order_number(),
        status="pending",
        currency=sums.currency,
        subtotal_minor=sums.subtotal.minor,
        discount_minor=sums.discount.minor,
        shipping_minor=sums.shipping.minor,
        total_minor=sums.total.minor,
        tax_minor=sums.tax.minor,
        tax_rate_bp=sums.tax_rate_bp,
        refunded_minor=0,
        discount_code=cart.discount_code if sums.discount.minor else None,
        shipping_method=cart.shipping_method,
        country=cart.country,
        shipping_address=dict(cart.shipping_address or {}),
        created_at=moment,
        updated_at=moment,
    )
    session.add(order)
    await session.flush()
    for position, (line, t) in enumerate(zip(lines, sums.lines, strict=True)):
        session.add(
            OrderLine(
                workspace_id=cart.workspace_id,
                order_id=order.id,
                variant_id=line.variant_id,
                title=line.title,
                sku=line.sku,
                quantity=line.quantity,
                unit_price_minor=line.unit_price_minor,
                discount_minor=t.discount.minor,
                total_minor=t.net.minor,
                position=position,
            )
        )
    session.add(
        OrderEvent(
            workspace_id=cart.workspace_id,
            order_id=order.id,
            kind="created",
            from_status=None,
            to_status="pending",
            actor=actor,
            data={"total": sums.total.to_json()},
            created_at=moment,
        )
    )
    reservations.record(session, cart.workspace_id, order.id, holds)
    cart.status = CHECKED_OUT
    cart.updated_at = moment
    await session.flush()
    return order
