"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from toonbank.api.deps import get_ctx
from toonbank.context import Context
from toonbank.ops import metrics
from toonbank.pipeline.normalize import pending_count

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers")
async def readyz(ctx: Context = Depends(get_ctx)) -> Response:
    try:
        async with ctx.db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        return Response('{"status":"unavailable"}', 503, media_type="application/json")
    return Response('{"status":"ready"}', 200, media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics")
async def prometheus(ctx: Context = Depends(get_ctx)) -> Response:
    from toonbank.pipeline.dispatch import outbox_depth
    from toonbank.pipeline.process import pending_conversations

    metrics.QUEUE_DEPTH.labels("normalize").set(await pending_count(ctx))
    metrics.QUEUE_DEPTH.labels("process").set(len(await pending_conversations(ctx, limit=10_000)))
    metrics.QUEUE_DEPTH.labels("dispatch").set(await outbox_depth(ctx))
    await _assistant_gauges(ctx)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _assistant_gauges(ctx: Context) -> None:
    """Assistant rates of the last 24 hours, all workspaces (per workspace: the REST API)."""
    from datetime import timedelta

    from toonbank.assistant.metrics import assistant_metrics
    from toonbank.kit.clock import now

    async with ctx.db.session() as session:
        result = await assistant_metrics(session, None, now() - timedelta(hours=24))
    for kind, value in (
        ("automation", result.automation_rate),
        ("handover", result.handover_rate),
        ("fallback", result.fallback_rate),
    ):
        metrics.ASSISTANT_RATE.labels(kind).set(value if value is not None else 0.0)
    metrics.ASSISTANT_CONVERSATIONS.labels("automated").set(result.automated)
    metrics.ASSISTANT_CONVERSATIONS.labels("confirmed").set(result.confirmed_automated)
    metrics.ASSISTANT_CONVERSATIONS.labels("handed_over").set(result.handovers)
