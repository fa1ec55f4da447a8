"""Delivery estimates around the cut-off, weekends, holidays and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from toonbank.commerce.money import Money
from toonbank.commerce.shipping import Schedule, quote
from toonbank.models import ShippingMethod

AMS = ZoneInfo("Europe/Amsterdam")


def method(**overrides: object) -> ShippingMethod:
    values: dict[str, object] = {
        "code": "postnl",
        "name": "PostNL",
        "currency": "EUR",
        "price_minor": 495,
        "free_over_minor": 7500,
        "timezone": "Europe/Amsterdam",
        "cutoff": "17:00",
        "dispatch_days": [0, 1, 2, 3, 4],
        "delivery_days": [0, 1, 2, 3, 4, 5],
        "transit_days_min": 1,
        "transit_days_max": 2,
        "holidays": ["2025-12-25", "2025-12-26"],
    }
    values.update(overrides)
    return ShippingMethod(**values)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)


@pytest.mark.parametrize(
    ("ordered", "dispatched", "earliest", "latest"),
    [
        # Tuesday before the cut-off: leaves today, arrives Wednesday or Thursday.
        (local(2025, 6, 3, 16, 59), date(2025, 6, 3), date(2025, 6, 4), date(2025, 6, 5)),
        # One minute late: leaves Wednesday.
        (local(2025, 6, 3, 17, 0), date(2025, 6, 4), date(2025, 6, 5), date(2025, 6, 6)),
        # Friday after the cut-off: leaves Monday (no weekend dispatch).
        (local(2025, 6, 6, 18, 0), date(2025, 6, 9), date(2025, 6, 10), date(2025, 6, 11)),
        # Friday before the cut-off: Saturday delivery counts, Sunday does not.
        (local(2025, 6, 6, 9, 0), date(2025, 6, 6), date(2025, 6, 7), date(2025, 6, 9)),
        # Sunday: leaves Monday.
        (local(2025, 6, 8, 10, 0), date(2025, 6, 9), date(2025, 6, 10), date(2025, 6, 11)),
        # Christmas Eve after the cut-off: no dispatch or delivery on the 25th and 26th.
        (local(2025, 12, 24, 18, 0), date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31)),
        (local(2025, 12, 24, 10, 0), date(2025, 12, 24), date(2025, 12, 27), date(2025, 12, 29)),
    ],
)
def test_estimates(ordered: datetime, dispatched: date, earliest: date, latest: date) -> None:
    estimate = Schedule.of(method()).estimate(ordered)
    assert (estimate.dispatch_date, estimate.earliest, estimate.latest) == (
        dispatched,
        earliest,
        latest,
    )
    assert estimate.order_before == datetime.combine(dispatched, datetime.min.time(), AMS).replace(
        hour=17
    )


def test_cut_off_is_in_the_methods_time_zone_not_the_customers() -> None:
    schedule = Schedule.of(method())
    # 16:30 UTC in winter is 17:30 in Amsterdam: too late for today's van.
    assert schedule.dispatch_date(datetime(2025, 1, 14, 16, 30, tzinfo=UTC)) == date(2025, 1, 15)
    # 14:30 UTC in summer is 16:30 in Amsterdam: still today.
    assert schedule.dispatch_date(datetime(2025, 7, 15, 14, 30, tzinfo=UTC)) == date(2025, 7, 15)


def test_pickup_is_ready_on_the_dispatch_day_and_price_is_free_over_threshold() -> None:
    pickup = method(transit_days_min=0, transit_days_max=0, cutoff="15:00", price_minor=0)
    estimate = Schedule.of(pickup).estimate(local(2025, 6, 3, 11, 0))
    assert estimate.earliest == estimate.latest == date(2025, 6, 3)
    postnl = method()
    assert quote(postnl, Money(7499, "EUR")) == Money(495, "EUR")
    assert quote(postnl, Money(7500, "EUR")) == Money(0, "EUR")
    assert quote(postnl) == Money(495, "EUR")
    assert quote(postnl, Money(10000, "USD")) == Money(495, "EUR")  # other currency: no deal
