"""The arithmetic of captures and refunds, kept pure so it can be property-tested
(``tests/commerce/test_payment_ledger.py``): integer minor units only, nothing created or lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from toonbank.commerce.money import Money


class LedgerError(ValueError):
    pass


def kept_amount(
    lines: Sequence[tuple[int, int, int]], shipping_minor: int, authorized_minor: int,
    currency: str,
) -> Money:  # fmt: skip
    """What to capture for the kept items: for each ``(line_total_minor, quantity, kept)``
    the kept share of the line's discounted total (``Money.allocate``, so keeping a line whole
    costs exactly its total), plus shipping when anything is kept; never more than was
    authorised."""
    amount = Money.zero(currency)
    anything_kept = False
    for total, quantity, kept in lines:
        if not 0 <= kept <= quantity:
            raise LedgerError(f"kept {kept} of {quantity}")
        if kept:
            anything_kept = True
            amount = amount + Money(total, currency).allocate([kept, quantity - kept])[0]
    if anything_kept:  # by quantity, not value: a kept item discounted to zero still ships
        amount = amount + Money(shipping_minor, currency)
    return Money(min(amount.minor, authorized_minor), currency)


def refund_plan(refundable: Sequence[int], wanted: int) -> list[int]:
    """Split a refund of ``wanted`` over payments that can each give back ``refundable[i]``
    (captured minus refunded), oldest first: the parts sum to ``wanted`` exactly and none
    exceeds what its payment can give back."""
    if any(r < 0 for r in refundable):
        raise LedgerError("a payment has refunded more than it captured")
    if wanted <= 0 or wanted > sum(refundable):
        raise LedgerError(f"between 0.01 and {sum(refundable)} minor units can be refunded")
    parts, left = [], wanted
    for available in refundable:
        part = min(left, available)
        parts.append(part)
        left -= part
    return parts
