"""Shipping methods: price, cut-off time and a business-day delivery estimate.

An order placed on a dispatch day before the cut-off (in the method's time zone) leaves the
warehouse that day; otherwise on the next dispatch day. Transit then counts delivery days
(e.g. Monday to Saturday for a parcel service), skipping the carrier's holidays. Pick-up
methods have zero transit days: ready on the dispatch day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce.hours import HoursError, parse_time, zone
from toonbank.commerce.money import Money
from toonbank.kit.clock import now
from toonbank.models import ShippingMethod

WEEKDAYS_MON_FRI = (0, 1, 2, 3, 4)
WEEKDAYS_MON_SAT = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Estimate:
    dispatch_date: date
    earliest: date
    latest: date
    order_before: datetime
    """The cut-off that this estimate depends on (order before it to keep these dates)."""

    def to_json(self) -> dict[str, str]:
        return {
            "dispatch_date": self.dispatch_date.isoformat(),
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "order_before": self.order_before.isoformat(),
        }


@dataclass(frozen=True)
class Schedule:
    """The calendar rules of one shipping method."""

    tz: ZoneInfo
    cutoff: time
    dispatch_days: frozenset[int]
    delivery_days: frozenset[int]
    transit_min: int
    transit_max: int
    holidays: frozenset[date]

    @classmethod
    def of(cls, method: ShippingMethod) -> Schedule:
        return cls(
            tz=zone(method.timezone),
            cutoff=parse_time(method.cutoff),
            dispatch_days=frozenset(method.dispatch_days or WEEKDAYS_MON_FRI),
            delivery_days=frozenset(method.delivery_days or WEEKDAYS_MON_SAT),
            transit_min=method.transit_days_min,
            transit_max=max(method.transit_days_min, method.transit_days_max),
            holidays=frozenset(date.fromisoformat(d) for d in method.holidays or []),
        )

    def _dispatches(self, day: date) -> bool:
        return day.weekday() in self.dispatch_days and day not in self.holidays

    def _delivers(self, day: date) -> bool:
        return day.weekday() in self.delivery_days and day not in self.holidays

    def dispatch_date(self, ordered_at: datetime) -> date:
        local = ordered_at.astimezone(self.tz)
        day = local.date()
        if self._dispatches(day) and local.time() < self.cutoff:
            return day
        day += timedelta(days=1)
        for _ in range(366):
            if self._dispatches(day):
                return day
            day += timedelta(days=1)
        raise HoursError("no dispatch day within a year")

    def _after_transit(self, dispatched: date, days: int) -> date:
        day = dispatched
        remaining = days
        for _ in range(366 + days):
            if remaining == 0:
                return day
            day += timedelta(days=1)
            if self._delivers(day):
                remaining -= 1
        raise HoursError("no delivery day within a year")

    def estimate(self, ordered_at: datetime) -> Estimate:
        if ordered_at.tzinfo is None:
            raise HoursError("naive datetime; pass an aware one")
        dispatched = self.dispatch_date(ordered_at)
        return Estimate(
            dispatch_date=dispatched,
            earliest=self._after_transit(dispatched, self.transit_min),
            latest=self._after_transit(dispatched, self.transit_max),
            order_before=datetime.combine(dispatched, self.cutoff, tzinfo=self.tz),
        )


def quote(method: ShippingMethod, subtotal: Money | None = None) -> Money:
    """The method's price for an order of ``subtotal`` (free above its threshold)."""
    price = Money(method.price_minor, method.currency)
    if (
        subtotal is not None
        and method.free_over_minor is not None
        and subtotal.currency == price.currency
        and subtotal.minor >= method.free_over_minor
    ):
        return Money.zero(price.currency)
    return price


def method_json(
    method: ShippingMethod, at: datetime | None = None, subtotal: Money | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": method.id,
        "code": method.code,
        "name": method.name,
        "carrier": method.carrier,
        "kind": method.kind,
        "countries": method.countries,
        "price": Money(method.price_minor, method.currency).to_json(),
        "free_over": Money(method.free_over_minor, method.currency).to_json()
        if method.free_over_minor is not None
        else None,
        "cutoff": method.cutoff,
        "timezone": method.timezone,
        "transit_days": [method.transit_days_min, method.transit_days_max],
    }
    if subtotal is not None:
        out["quote"] = quote(method, subtotal).to_json()
    if at is not None:
        out["estimate"] = Schedule.of(method).estimate(at).to_json()
    return out


async def methods_for(
    session: AsyncSession, workspace_id: str, country: str | None = None
) -> Sequence[ShippingMethod]:
    """Active methods of a workspace, for ``country`` when given (no countries: everywhere)."""
    rows = (
        await session.execute(
            select(ShippingMethod)
            .where(ShippingMethod.workspace_id == workspace_id, ShippingMethod.active.is_(True))
            .order_by(ShippingMethod.position, ShippingMethod.code)
        )
    ).scalars()
    wanted = country.upper() if country else None
    return [m for m in rows if wanted is None or not m.countries or wanted in m.countries]


async def upsert_method(
    session: AsyncSession, workspace_id: str, code: str, values: dict[str, Any]
) -> ShippingMethod:
    """Create or replace shipping method ``code``; every calendar field is validated first."""
    currency = str(values.get("currency", "EUR")).upper()
    price = Money.of(str(values["price"]), currency)
    free_over = Money.of(str(values["free_over"]), currency) if values.get("free_over") else None
    zone(str(values.get("timezone", "UTC")))
    parse_time(str(values.get("cutoff", "17:00")))
    try:
        holidays = sorted(
            {date.fromisoformat(str(d)).isoformat() for d in values.get("holidays", [])}
        )
    except ValueError:
        raise HoursError("holidays must be dates (YYYY-MM-DD)") from None
    if int(values.get("transit_days_max", 1)) < int(values.get("transit_days_min", 1)):
        raise HoursError("transit_days_max must not be below transit_days_min")
    method = (
        await session.execute(
            select(ShippingMethod).where(
                ShippingMethod.workspace_id == workspace_id, ShippingMethod.code == code
            )
        )
    ).scalar_one_or_none()
    if method is None:
        method = ShippingMethod(workspace_id=workspace_id, code=code)
        session.add(method)
    method.name = str(values["name"])
    method.carrier = values.get("carrier")
    method.kind = str(values.get("kind", "delivery"))
    method.countries = sorted({str(c).upper() for c in values.get("countries", [])})
    method.price_minor = price.minor
    method.currency = price.currency
    method.free_over_minor = free_over.minor if free_over else None
    method.timezone = str(values.get("timezone", "UTC"))
    method.cutoff = str(values.get("cutoff", "17:00"))
    method.dispatch_days = list(values.get("dispatch_days", WEEKDAYS_MON_FRI))
    method.delivery_days = list(values.get("delivery_days", WEEKDAYS_MON_SAT))
    method.transit_days_min = int(values.get("transit_days_min", 1))
    method.transit_days_max = int(values.get("transit_days_max", 1))
    method.holidays = holidays
    method.active = bool(values.get("active", True))
    method.position = int(values.get("position", 0))
    method.updated_at = now()
    await session.flush()
    return method
