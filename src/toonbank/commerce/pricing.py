"""Cart and order totals: exact integer arithmetic, VAT-inclusive prices.

Prices include VAT (as European consumer prices do). The discount comes off the goods and is
spread over the lines in proportion to their value (``Money.allocate``: no cent created or
lost); shipping is added after the discount; the VAT contained in the total is
``total x rate / (1 + rate)`` rounded half-to-even, at the destination country's rate.

    total    = subtotal - discount + shipping
    discount = sum of line discounts,  0 <= discount <= subtotal
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from toonbank.commerce.money import Money, MoneyError

BASIS_POINTS = 10_000


class PricingError(ValueError):
    """Lines in several currencies, or a discount in another currency than the cart."""


@dataclass(frozen=True, slots=True)
class Discount:
    """``percent`` (``percent_bp`` basis points, 1000 = 10 %) or ``fixed`` (``amount``)."""

    kind: Literal["percent", "fixed"]
    percent_bp: int = 0
    amount: Money | None = None
    min_subtotal: Money | None = None

    def __post_init__(self) -> None:
        if self.kind == "percent" and not 0 <= self.percent_bp <= BASIS_POINTS:
            raise PricingError("a percentage discount is between 0 and 100 %")
        if self.kind == "fixed" and (self.amount is None or self.amount.minor < 0):
            raise PricingError("a fixed discount needs a non-negative amount")

    def off(self, subtotal: Money) -> Money:
        """How much comes off ``subtotal`` (never more than it)."""
        minimum = self.min_subtotal
        if minimum is not None and minimum.currency == subtotal.currency and subtotal < minimum:
            return Money.zero(subtotal.currency)
        if self.kind == "percent":
            cut = subtotal * (Decimal(self.percent_bp) / BASIS_POINTS)
        else:
            assert self.amount is not None
            if self.amount.currency != subtotal.currency:
                raise PricingError(
                    f"discount is in {self.amount.currency}, the cart in {subtotal.currency}"
                )
            cut = self.amount
        return min(cut, subtotal, key=lambda m: m.minor)


@dataclass(frozen=True, slots=True)
class LineTotal:
    unit: Money
    quantity: int
    gross: Money
    discount: Money
    net: Money


@dataclass(frozen=True, slots=True)
class Totals:
    currency: str
    lines: tuple[LineTotal, ...]
    subtotal: Money
    discount: Money
    shipping: Money
    total: Money
    tax: Money
    tax_rate_bp: int

    def to_json(self) -> dict[str, object]:
        return {
            "currency": self.currency,
            "subtotal": self.subtotal.to_json(),
            "discount": self.discount.to_json(),
            "shipping": self.shipping.to_json(),
            "total": self.total.to_json(),
            "tax_included": self.tax.to_json(),
            "tax_rate": f"{Decimal(self.tax_rate_bp) / 100:f}",
        }


def vat_included(gross: Money, rate_bp: int) -> Money:
    """The VAT contained in a VAT-inclusive ``gross`` at ``rate_bp``, rounded half-to-even."""
    if rate_bp < 0:
        raise PricingError("a VAT rate is not negative")
    numerator = gross.minor * rate_bp
    denominator = BASIS_POINTS + rate_bp
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return Money(quotient, gross.currency)


def price(
    lines: list[tuple[Money, int]],
    *,
    currency: str,
    discount: Discount | None = None,
    shipping: Money | None = None,
    tax_rate_bp: int = 0,
) -> Totals:
    """Totals for ``(unit price, quantity)`` lines, all in ``currency``."""
    if any(quantity < 1 for _unit, quantity in lines):
        raise PricingError("quantities are at least 1")
    try:
        gross = [unit * quantity for unit, quantity in lines]
        subtotal = sum(gross, Money.zero(currency))
        cut = discount.off(subtotal) if discount is not None and lines else Money.zero(currency)
        if cut.minor and subtotal.minor:
            shares = cut.allocate([g.minor for g in gross])
        else:
            shares = [Money.zero(currency) for _ in gross]
        ship = shipping if shipping is not None else Money.zero(currency)
        total = subtotal - cut + ship
    except MoneyError as exc:
        raise PricingError(str(exc)) from None
    return Totals(
        currency=subtotal.currency,
        lines=tuple(
            LineTotal(unit=u, quantity=q, gross=g, discount=d, net=g - d)
            for (u, q), g, d in zip(lines, gross, shares, strict=True)
        ),
        subtotal=subtotal,
        discount=cut,
        shipping=ship,
        total=total,
        tax=vat_included(total, tax_rate_bp),
        tax_rate_bp=tax_rate_bp,
    )
