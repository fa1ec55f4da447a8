"""Opening hours in the store's own time zone: DST, other zones, overnight hours, holidays."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from toonbank.commerce.hours import HoursError, OpeningHours

AMS = ZoneInfo("Europe/Amsterdam")
WEEK = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}


def hours(tz: str = "Europe/Amsterdam", **extra: object) -> OpeningHours:
    weekly = {**WEEK, **extra.pop("weekly", {})}  # type: ignore[dict-item]
    return OpeningHours.from_json(tz, weekly, extra.pop("exceptions", None))  # type: ignore[arg-type]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_nine_oclock_follows_daylight_saving_time() -> None:
    shop = hours()
    # Winter (CET, UTC+1): 09:00 local is 08:00 UTC.
    assert not shop.is_open(utc(2025, 1, 15, 7, 59))
    assert shop.is_open(utc(2025, 1, 15, 8, 0))
    # Summer (CEST, UTC+2): 09:00 local is 07:00 UTC.
    assert shop.is_open(utc(2025, 7, 15, 7, 0))
    assert not shop.is_open(utc(2025, 7, 15, 16, 0))  # 18:00 local: closed
    # The Monday after the spring change (30 March 2025) already opens at 07:00 UTC.
    assert shop.next_opening(utc(2025, 3, 29, 17, 0)) == datetime(2025, 3, 31, 9, 0, tzinfo=AMS)
    assert shop.next_opening(utc(2025, 3, 29, 17, 0)).astimezone(UTC) == utc(2025, 3, 31, 7, 0)  # type: ignore[union-attr]


def test_the_same_instant_is_open_in_one_zone_and_closed_in_another() -> None:
    amsterdam, new_york = hours(), hours("America/New_York")
    moment = utc(2025, 5, 6, 12, 0)  # 14:00 in Amsterdam, 08:00 in New York
    assert amsterdam.is_open(moment)
    assert not new_york.is_open(moment)
    assert new_york.next_opening(moment) == datetime(
        2025, 5, 6, 9, 0, tzinfo=ZoneInfo("America/New_York")
    )


def test_holidays_close_the_store_and_special_hours_replace_the_week() -> None:
    shop = hours(
        exceptions=[
            {"date": "2025-12-25", "closed": True, "note": "Christmas Day"},
            {"date": "2025-12-24", "hours": ["09:00-16:00"], "note": "Christmas Eve"},
            {"date": "2025-12-28", "hours": "12:00-17:00", "note": "Extra Sunday"},
        ]
    )
    assert not shop.is_open(utc(2025, 12, 25, 11, 0))  # a Thursday, normally open
    status = shop.status(utc(2025, 12, 25, 11, 0))
    assert status["open"] is False and status["note"] == "Christmas Day"
    assert status["today"] == []
    assert status["next_opening"] == "2025-12-26T09:00:00+01:00"
    assert shop.is_open(utc(2025, 12, 24, 14, 30))  # 15:30 local
    assert not shop.is_open(utc(2025, 12, 24, 15, 30))  # 16:30 local: closed early
    assert shop.is_open(utc(2025, 12, 28, 12, 0))  # a Sunday with special hours


def test_overnight_hours_and_the_autumn_change() -> None:
    bar = hours(weekly={"fri": ["20:00-02:00"], "sat": ["20:00-04:00"]})
    # Saturday 01:30 local belongs to Friday's range.
    assert bar.is_open(datetime(2025, 10, 25, 1, 30, tzinfo=AMS))
    interval = bar.current(datetime(2025, 10, 26, 1, 0, tzinfo=AMS))
    assert interval is not None
    opened, closes = interval
    # The night the clocks go back lasts an hour longer: 20:00 CEST → 04:00 CET is 9 hours.
    assert (closes - opened).total_seconds() == 9 * 3600
    assert closes == datetime(2025, 10, 26, 3, 0, tzinfo=UTC)
    assert not bar.is_open(datetime(2025, 10, 26, 4, 30, tzinfo=AMS))
    assert not bar.is_open(datetime(2025, 10, 25, 2, 30, tzinfo=AMS))  # Friday's ended at 02:00


def test_status_reports_closing_time_and_hours_round_trip() -> None:
    shop = hours(weekly={"sun": ["12:00-17:00"], "thu": ["09:00-12:30", "13:00-21:00"]})
    status = shop.status(utc(2025, 5, 8, 16, 0))  # Thursday 18:00 local
    assert status == {
        "open": True,
        "closes_at": "2025-05-08T21:00:00+02:00",
        "next_opening": None,
        "today": [["09:00", "12:30"], ["13:00", "21:00"]],
        "note": None,
    }
    assert not shop.is_open(utc(2025, 5, 8, 10, 45))  # 12:45 local: lunch break
    weekly, exceptions = shop.to_json()
    assert OpeningHours.from_json("Europe/Amsterdam", weekly, exceptions) == shop


@pytest.mark.parametrize(
    ("weekly", "problem"),
    [
        ({"mon": ["9-18"]}, "not a time range"),
        ({"funday": ["09:00-18:00"]}, "not a weekday"),
        ({"mon": ["09:00-09:00"]}, "empty time range"),
        ({"mon": ["25:00-26:00"]}, "not a time"),
    ],
)
def test_bad_hours_are_refused(weekly: dict[str, list[str]], problem: str) -> None:
    with pytest.raises(HoursError, match=problem):
        OpeningHours.from_json("Europe/Amsterdam", weekly, None)
    with pytest.raises(HoursError, match="unknown time zone"):
        OpeningHours.from_json("Mars/Olympus", {}, None)
    with pytest.raises(HoursError, match="naive"):
        hours().is_open(datetime(2025, 1, 1, 12, 0))
