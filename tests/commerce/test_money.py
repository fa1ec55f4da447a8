"""Money is exact: integer minor units per ISO 4217 currency, Decimal in and out, never float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toonbank.commerce.money import Money, MoneyError

CURRENCIES = st.sampled_from(["EUR", "USD", "JPY", "KWD", "GBP", "CLF"])
MINOR = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def money(draw: st.DrawFn, currency: str | None = None) -> Money:
    return Money(draw(MINOR), currency or draw(CURRENCIES))


@given(money())
def test_amount_round_trips_through_major_units_and_text(value: Money) -> None:
    assert Money.of(value.amount, value.currency) == value
    assert Money.parse(str(value)) == value
    assert Money.of(str(value.amount), value.currency).minor == value.minor


@given(CURRENCIES.flatmap(lambda c: st.tuples(money(c), money(c), money(c))))
def test_addition_is_exact_associative_and_reversible(values: tuple[Money, Money, Money]) -> None:
    a, b, c = values
    assert (a + b) + c == a + (b + c)
    assert a + b - b == a
    assert (a + b).amount == a.amount + b.amount  # no rounding anywhere


@given(money(), st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12))
def test_allocate_never_creates_or_loses_a_cent(value: Money, weights: list[int]) -> None:
    if sum(weights) == 0:
        weights = [*weights[:-1], 1]
    parts = value.allocate(weights)
    assert sum(p.minor for p in parts) == value.minor
    assert len(parts) == len(weights)
    assert all(p.minor == 0 for p, w in zip(parts, weights, strict=True) if w == 0)
    shares = [value.minor * w / sum(weights) for w in weights]
    assert all(abs(p.minor - s) <= 1 for p, s in zip(parts, shares, strict=True))


@given(money("EUR"), st.integers(min_value=0, max_value=1000))
def test_multiplying_by_a_quantity_is_exact(value: Money, quantity: int) -> None:
    assert (value * quantity).minor == value.minor * quantity
    assert quantity * value == value * quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15.00 USD", Money(1500, "USD")),
        ("USD 15", Money(1500, "USD")),
        ("1,299.00 EUR", Money(129900, "EUR")),
        ("1.299,50 EUR", Money(129950, "EUR")),
        ("12,50 EUR", Money(1250, "EUR")),
        ("1 299,00 EUR", Money(129900, "EUR")),
        ("15,000 USD", Money(1500000, "USD")),
        ("1500 JPY", Money(1500, "JPY")),
        ("1.234 KWD", Money(1234, "KWD")),
        ("0.1 EUR", Money(10, "EUR")),
    ],
)
def test_parse_feed_prices(text: str, expected: Money) -> None:
    assert Money.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("19.999 EUR", "more than 2 decimals"),
        ("10.5 JPY", "more than 0 decimals"),
        ("15.00", "no currency"),
        ("12 XYZ", "unknown currency"),
        ("1,2,3 EUR", "not a price"),
        ("twenty EUR", "not a price"),
    ],
)
def test_parse_rejects_what_is_not_exact_money(text: str, problem: str) -> None:
    with pytest.raises(MoneyError, match=problem):
        Money.parse(text)


def test_floats_and_mixed_currencies_are_refused() -> None:
    with pytest.raises(MoneyError, match="floats"):
        Money.of(0.1, "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError, match="cannot combine EUR with USD"):
        Money(100, "EUR") + Money(100, "USD")
    with pytest.raises(MoneyError):
        _ = Money(100, "EUR") < Money(100, "USD")
    assert Money(1999, "EUR").amount == Decimal("19.99")
    assert Money(5, "EUR") * Decimal("0.5") == Money(2, "EUR")  # 2.5 cents → half to even
    assert Money(7, "EUR") * Decimal("0.5") == Money(4, "EUR")  # 3.5 cents → 4
    assert Money(1999, "eur").to_json() == {"amount": "19.99", "currency": "EUR"}
