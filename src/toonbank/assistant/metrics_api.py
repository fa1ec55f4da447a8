"""``GET /api/v1/assistant/metrics``: the workspace's assistant metrics over a time window
(``assistant:read``). See :mod:`toonbank.assistant.metrics` for the definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query

from toonbank.api.deps import get_ctx, require_scope
from toonbank.api.errors import ApiError
from toonbank.assistant.metrics import assistant_metrics, default_since
from toonbank.auth.service import KeyPrincipal
from toonbank.context import Context
from toonbank.kit.clock import now

router = APIRouter(prefix="/api/v1/assistant", tags=["assistant"])
MAX_WINDOW = timedelta(days=366)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@router.get("/metrics")
async def metrics_endpoint(
    since: datetime | None = Query(default=None, description="ISO 8601; default 7 days ago."),
    until: datetime | None = Query(default=None, description="ISO 8601; default now."),
    principal: KeyPrincipal = Depends(require_scope("assistant:read")),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Automation (and customer-confirmed automation), handover rate and reasons, fallback
    rate and CSAT, in total, per intent and per language."""
    start = _aware(since) or default_since()
    end = _aware(until) or now()
    if start >= end or end - start > MAX_WINDOW:
        raise ApiError(422, "invalid_request", "give since < until, at most 366 days apart")
    async with ctx.db.session() as session:
        result = await assistant_metrics(session, principal.workspace_id, start, end)
    return result.to_json()
