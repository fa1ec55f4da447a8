"""The inbox's periodic work, run by the worker's maintenance loop (every few seconds)."""

from __future__ import annotations

from typing import Any

from toonbank.inbox import csat, sla


async def tick(ctx: Any) -> int:
    """SLA warnings and breaches, auto-reassign, CSAT answers; returns how much happened."""
    return await sla.check(ctx) + await csat.collect(ctx)
