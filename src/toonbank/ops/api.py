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
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
