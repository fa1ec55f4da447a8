"""Cart totals: exact integer money, discounts spread without losing a cent, VAT included."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toonbank.commerce.money import Money
from toonbank.commerce.pricing import Discount, PricingError, price, vat_included

CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD"])
LINES = st.lists(
    st.tuples(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=999)),
    min_size=1,
    max_size=20,
)
DISCOUNTS = st.one_of(
    st.none(),
    st.builds(lambda bp: ("percent", bp), st.integers(min_value=0, max_value=10_000)),
    st.builds(lambda minor: ("fixed", minor), st.integers(min_value=0, max_value=10**12)),
)


def _discount(spec: tuple[str, int] | None, currency: str) -> Discount | None:
    if spec is None:
        return None
    kind, value = spec
    if kind == "percent":
        return Discount("percent", percent_bp=value)
    return Discount("fixed", amount=Money(value, currency))


@given(
    currency=CURRENCIES,
    lines=LINES,
    spec=DISCOUNTS,
    shipping=st.integers(min_value=0, max_value=10**6),
    rate=st.integers(min_value=0, max_value=2700),
)
def test_totals_add_up_exactly(
    currency: str, lines: list[tuple[int, int]], spec: tuple[str, int] | None, shipping: int,
    rate: int,
) -> None:  # fmt: skip
    units = [(Money(minor, currency), qty) for minor, qty in lines]
    t = price(
        units,
        currency=currency,
        discount=_discount(spec, currency),
        shipping=Money(shipping, currency),
        tax_rate_bp=rate,
    )
    assert t.subtotal.minor == sum(minor * qty for minor, qty in lines)
    assert 0 <= t.discount.minor <= t.subtotal.minor
    assert sum(x.discount.minor for x in t.lines) == t.discount.minor
    assert all(0 <= x.discount.minor <= x.gross.minor for x in t.lines)
    assert sum(x.net.minor for x in t.lines) == t.subtotal.minor - t.discount.minor
    assert t.total.minor == t.subtotal.minor - t.discount.minor + shipping
    expected_tax = (Decimal(t.total.minor) * rate / (10_000 + rate)).quantize(
        Decimal(1), rounding=ROUND_HALF_EVEN
    )
    assert t.tax.minor == int(expected_tax)
    assert 0 <= t.tax.minor <= t.total.minor
    for value in (t.subtotal, t.discount, t.total, t.tax):
        assert type(value.minor) is int and value.currency == currency


@given(lines=LINES, bp=st.integers(min_value=0, max_value=10_000))
def test_percentage_discount_is_the_rounded_share(lines: list[tuple[int, int]], bp: int) -> None:
    t = price([(Money(m, "EUR"), q) for m, q in lines], currency="EUR",
              discount=Discount("percent", percent_bp=bp))  # fmt: skip
    exact = Decimal(t.subtotal.minor) * bp / 10_000
    assert abs(Decimal(t.discount.minor) - exact) <= Decimal("0.5")
    if bp == 10_000:
        assert t.total.minor == 0


def test_examples() -> None:
    eur = lambda s: Money.of(s, "EUR")  # noqa: E731
    t = price(
        [(eur("19.99"), 3), (eur("5.00"), 1)],
        currency="EUR",
        discount=Discount("percent", percent_bp=1000),
        shipping=eur("4.95"),
        tax_rate_bp=2100,
    )
    assert str(t.subtotal) == "64.97 EUR"
    assert str(t.discount) == "6.50 EUR"  # 6.497 → 6.50
    assert str(t.total) == "63.42 EUR"
    assert str(t.tax) == "11.01 EUR"  # 63.42 x 21/121 = 11.0067...
    assert t.to_json()["tax_rate"] == "21"
    fixed = price([(eur("8.00"), 1)], currency="EUR",
                  discount=Discount("fixed", amount=eur("10.00")))  # fmt: skip
    assert fixed.discount == eur("8.00") and fixed.total.minor == 0
    floor = Discount("fixed", amount=eur("5"), min_subtotal=eur("50"))
    assert price([(eur("49.99"), 1)], currency="EUR", discount=floor).discount.minor == 0
    assert price([(eur("50"), 1)], currency="EUR", discount=floor).discount == eur("5")
    assert vat_included(Money(121, "EUR"), 2100) == Money(21, "EUR")
    assert vat_included(Money(1, "EUR"), 10_000) == Money(0, "EUR")  # 0.5 → 0 (half-even)
    assert vat_included(Money(3, "EUR"), 10_000) == Money(2, "EUR")  # 1.5 → 2


def test_refuses_mixed_currencies_and_bad_input() -> None:
    with pytest.raises(PricingError):
        price([(Money(100, "EUR"), 1), (Money(100, "USD"), 1)], currency="EUR")
    with pytest.raises(PricingError):
        price([(Money(100, "EUR"), 1)], currency="EUR",
              discount=Discount("fixed", amount=Money(5, "USD")))  # fmt: skip
    with pytest.raises(PricingError):
        Discount("percent", percent_bp=10_001)
    with pytest.raises(PricingError):
        price([(Money(100, "EUR"), 0)], currency="EUR")
