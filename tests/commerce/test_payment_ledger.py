"""Money in captures and refunds is exact (Hypothesis): a capture of kept items never exceeds
the authorisation, keeping everything captures exactly the order total, keeping more never
costs less, and refunds split over payments sum exactly and never exceed what was captured."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toonbank.commerce.money import Money
from toonbank.commerce.payments.ledger import LedgerError, kept_amount, refund_plan
from toonbank.commerce.pricing import Discount, price

CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD"])
LINES = st.lists(
    st.tuples(st.integers(min_value=1, max_value=10**7), st.integers(min_value=1, max_value=20)),
    min_size=1,
    max_size=8,
)


@st.composite
def orders(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]], int, int]:
    """An order priced by ``pricing.price``: (currency, [(line net total, quantity)],
    shipping, total)."""
    currency = draw(CURRENCIES)
    lines = draw(LINES)
    percent = draw(st.integers(min_value=0, max_value=10_000))
    shipping = draw(st.integers(min_value=0, max_value=10**5))
    totals = price(
        [(Money(unit, currency), qty) for unit, qty in lines],
        currency=currency,
        discount=Discount("percent", percent_bp=percent),
        shipping=Money(shipping, currency),
        tax_rate_bp=2100,
    )
    priced = [(t.net.minor, qty) for t, (_unit, qty) in zip(totals.lines, lines, strict=True)]
    return currency, priced, totals.shipping.minor, totals.total.minor


@given(order=orders(), data=st.data())
def test_capture_of_kept_items(
    order: tuple[str, list[tuple[int, int]], int, int], data: st.DataObject
) -> None:
    currency, lines, shipping, total = order
    kept = [data.draw(st.integers(min_value=0, max_value=qty)) for _total, qty in lines]
    rows = [(t, q, k) for (t, q), k in zip(lines, kept, strict=True)]
    authorised = total
    captured = kept_amount(rows, shipping, authorised, currency)
    assert 0 <= captured.minor <= authorised
    released = authorised - captured.minor
    assert captured.minor + released == authorised and released >= 0
    everything = kept_amount([(t, q, q) for t, q in lines], shipping, authorised, currency)
    assert everything.minor == total  # keeping it all costs exactly the order total
    assert kept_amount([(t, q, 0) for t, q in lines], shipping, authorised, currency).minor == 0
    # Keeping one more unit of any line never makes the capture smaller.
    for i, (t, q, k) in enumerate(rows):
        if k < q:
            more = [*rows[:i], (t, q, k + 1), *rows[i + 1 :]]
            assert kept_amount(more, shipping, authorised, currency).minor >= captured.minor
    # A smaller authorisation caps the capture.
    assert kept_amount(rows, shipping, captured.minor // 2, currency).minor <= captured.minor // 2


def test_kept_more_than_bought_is_refused() -> None:
    with pytest.raises(LedgerError):
        kept_amount([(1000, 1, 2)], 0, 1000, "EUR")


@given(
    captured=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=5),
    requests=st.lists(st.integers(min_value=-5, max_value=2 * 10**9), max_size=12),
)
def test_refunds_never_exceed_what_was_captured(captured: list[int], requests: list[int]) -> None:
    refunded = [0] * len(captured)
    for wanted in requests:
        refundable = [c - r for c, r in zip(captured, refunded, strict=True)]
        if wanted <= 0 or wanted > sum(refundable):
            with pytest.raises(LedgerError):
                refund_plan(refundable, wanted)
            continue
        parts = refund_plan(refundable, wanted)
        assert sum(parts) == wanted
        assert all(0 <= p <= r for p, r in zip(parts, refundable, strict=True))
        refunded = [r + p for r, p in zip(refunded, parts, strict=True)]
        assert all(r <= c for r, c in zip(refunded, captured, strict=True))
    # Refunding "everything" then brings every payment to exactly zero left.
    left = [c - r for c, r in zip(captured, refunded, strict=True)]
    if sum(left):
        parts = refund_plan(left, sum(left))
        assert parts == left
