"""Opening hours: a weekly schedule in the store's time zone, with holidays and exceptions.

Hours are wall-clock times where the store is. Converting them to instants goes through
``zoneinfo`` for each date, so 09:00 in Amsterdam is 08:00 UTC in winter and 07:00 UTC in
summer, and a range whose closing time is not after its opening time runs past midnight
(``22:00-02:00``). An exception replaces the weekly hours of one date: an empty list closes
the store (a holiday), other ranges are special hours.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")

Range = tuple[time, time]


class HoursError(ValueError):
    """Opening hours that cannot be understood."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"unknown time zone {name!r}") from None


def parse_time(text: str) -> time:
    match = _TIME.match(text.strip())
    if not match:
        raise HoursError(f"not a time (HH:MM): {text!r}")
    hour, minute = int(match[1]), int(match[2])
    if hour == 24 and minute == 0:
        return time(0, 0)  # "24:00" closes at midnight
    if hour > 23 or minute > 59:
        raise HoursError(f"not a time (HH:MM): {text!r}")
    return time(hour, minute)


def parse_ranges(value: Any) -> list[Range]:
    """``["09:00-18:00"]``, ``[["09:00", "18:00"]]`` or ``"09:00-12:00, 13:00-17:00"``."""
    if value is None or value == "" or value == "closed":
        return []
    items: Sequence[Any] = value.split(",") if isinstance(value, str) else value
    ranges: list[Range] = []
    for item in items:
        if isinstance(item, str):
            match = _RANGE.match(item)
            if not match:
                raise HoursError(f"not a time range (HH:MM-HH:MM): {item!r}")
            opens = parse_time(f"{match[1]}:{match[2]}")
            closes = parse_time(f"{match[3]}:{match[4]}")
        elif isinstance(item, Sequence) and len(item) == 2:
            opens, closes = parse_time(str(item[0])), parse_time(str(item[1]))
        else:
            raise HoursError(f"not a time range: {item!r}")
        if opens == closes:
            raise HoursError(f"empty time range: {item!r}")
        ranges.append((opens, closes))
    return sorted(ranges)


def _fmt(ranges: list[Range]) -> list[list[str]]:
    return [
        [o.strftime("%H:%M"), "24:00" if c == time(0) else c.strftime("%H:%M")] for o, c in ranges
    ]


@dataclass(frozen=True)
class DayException:
    day: date
    ranges: list[Range]
    note: str | None = None


@dataclass(frozen=True)
class OpeningHours:
    """A store's weekly schedule plus dated exceptions, in its time zone."""

    tz: ZoneInfo
    weekly: dict[int, list[Range]] = field(default_factory=dict)
    exceptions: dict[date, DayException] = field(default_factory=dict)

    @classmethod
    def from_json(
        cls, timezone: str, weekly: Mapping[str, Any] | None, exceptions: Sequence[Any] | None
    ) -> OpeningHours:
        week: dict[int, list[Range]] = {}
        for key, value in (weekly or {}).items():
            day = key.strip().lower()[:3]
            if day not in WEEKDAYS:
                raise HoursError(f"not a weekday: {key!r} (use mon … sun)")
            week[WEEKDAYS.index(day)] = parse_ranges(value)
        special: dict[date, DayException] = {}
        for item in exceptions or []:
            if not isinstance(item, Mapping) or "date" not in item:
                raise HoursError("an exception needs a 'date' (YYYY-MM-DD)")
            try:
                day_ = date.fromisoformat(str(item["date"]))
            except ValueError:
                raise HoursError(f"not a date: {item['date']!r}") from None
            closed = bool(item.get("closed", False))
            ranges = [] if closed else parse_ranges(item.get("hours"))
            note = item.get("note")
            special[day_] = DayException(day_, ranges, str(note) if note else None)
        return cls(zone(timezone), week, special)

    def to_json(self) -> tuple[dict[str, list[list[str]]], list[dict[str, Any]]]:
        weekly = {WEEKDAYS[d]: _fmt(r) for d, r in sorted(self.weekly.items())}
        exceptions = [
            {"date": e.day.isoformat(), "hours": _fmt(e.ranges), "note": e.note}
            for e in sorted(self.exceptions.values(), key=lambda e: e.day)
        ]
        return weekly, exceptions

    # -- queries --------------------------------------------------------------------------
    def ranges_on(self, day: date) -> list[Range]:
        """The local opening ranges that start on ``day`` (exception first, then weekly)."""
        special = self.exceptions.get(day)
        if special is not None:
            return special.ranges
        return self.weekly.get(day.weekday(), [])

    def note_on(self, day: date) -> str | None:
        special = self.exceptions.get(day)
        return special.note if special else None

    def intervals(self, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals (as UTC instants) of the local dates ``first`` … ``last``.

        UTC because Python compares and subtracts datetimes that share a ``tzinfo`` by wall
        clock, which is wrong across a DST change.
        """
        day = first
        while day <= last:
            for opens, closes in self.ranges_on(day):
                start = datetime.combine(day, opens, tzinfo=self.tz)
                end_day = day if closes > opens else day + timedelta(days=1)
                end = datetime.combine(end_day, closes, tzinfo=self.tz)
                yield start.astimezone(UTC), end.astimezone(UTC)
            day += timedelta(days=1)

    def current(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The interval (UTC) the store is open in at ``at``, or ``None`` when closed."""
        instant = _aware(at).astimezone(UTC)
        day = instant.astimezone(self.tz).date()
        for start, end in self.intervals(day - timedelta(days=1), day):
            if start <= instant < end:
                return start, end
        return None

    def is_open(self, at: datetime) -> bool:
        return self.current(at) is not None

    def next_opening(self, at: datetime, horizon_days: int = 60) -> datetime | None:
        """When the store next opens after ``at`` (``None`` if not within the horizon)."""
        instant = _aware(at).astimezone(UTC)
        day = instant.astimezone(self.tz).date()
        for start, _end in self.intervals(day, day + timedelta(horizon_days)):
            if start > instant:
                return start.astimezone(self.tz)
        return None

    def status(self, at: datetime) -> dict[str, Any]:
        """What a customer wants to know: open now? until when? else when next?"""
        now_interval = self.current(at)
        local_day = _aware(at).astimezone(self.tz).date()
        nxt = None if now_interval else self.next_opening(at)
        return {
            "open": now_interval is not None,
            "closes_at": now_interval[1].astimezone(self.tz).isoformat() if now_interval else None,
            "next_opening": nxt.isoformat() if nxt else None,
            "today": _fmt(self.ranges_on(local_day)),
            "note": self.note_on(local_day),
        }


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise HoursError("naive datetime; pass an aware one")
    return at
