"""Time in one place, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now() -> datetime:
    return datetime.now(UTC)


def after(seconds: float) -> datetime:
    return now() + timedelta(seconds=seconds)
