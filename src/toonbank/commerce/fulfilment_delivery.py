"""Sending fulfilment webhooks from the outbox (``fulfilment_deliveries``), with retries.

1. **Claim** (one short transaction): due rows are ``pending`` with ``next_attempt_at`` passed,
   or ``sending`` with an expired lease (a worker died mid-send). A guarded ``UPDATE … WHERE
   id = … AND <still due> RETURNING`` takes each one, so two workers never send the same
   attempt. A row is due only when no older delivery of the same order to the same endpoint
   is still pending or sending, so a receiver gets an order's events in order.
2. **Send** outside any transaction: ``POST`` the stored JSON, signed now
   (``fulfilment.sign``), no redirects followed, ``dispatch_timeout`` seconds.
3. **Record** (one transaction): every attempt is a ``fulfilment_attempts`` row (outcome,
   status code or error, duration). A 2xx answer delivers; anything else schedules the next
   try after an exponential backoff with full jitter (``retry_base_seconds`` doubling up to
   ``retry_max_seconds``, times a random factor in [0.5, 1]), until
   ``fulfilment_max_attempts`` tries have failed (``failed``; ``POST …/retry`` starts over).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import httpx
import structlog
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

from toonbank.commerce import fulfilment
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import FulfilmentAttempt, FulfilmentDelivery, FulfilmentEndpoint

log = structlog.get_logger(__name__)
BATCH: Final = 50
LEASE: Final = timedelta(seconds=60)
PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: str
    workspace_id: str
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff(ctx: Context, attempt: int) -> timedelta:
    """Exponential, capped, with full jitter (so failing receivers are not hit in waves)."""
    base = ctx.settings.retry_base_seconds * 2 ** max(attempt - 1, 0)
    capped = min(base, ctx.settings.retry_max_seconds)
    return timedelta(seconds=capped * random.uniform(0.5, 1.0))  # jitter, not a secret


def _due(moment: object) -> object:
    D = FulfilmentDelivery
    older = aliased(FulfilmentDelivery)
    blocked = exists().where(
        older.endpoint_id == D.endpoint_id,
        older.order_id == D.order_id,
        older.created_at < D.created_at,
        older.status.in_((PENDING, SENDING)),
    )
    ready = or_(
        and_(D.status == PENDING, D.next_attempt_at <= moment),
        and_(D.status == SENDING, D.lease_until < moment),
    )
    return and_(ready, ~blocked)


async def _claim(ctx: Context) -> list[FulfilmentDelivery]:
    moment = now()
    async with ctx.db.uow() as uow:
        ids = list(
            (
                await uow.session.execute(
                    select(FulfilmentDelivery.id)
                    .where(_due(moment))  # type: ignore[arg-type]
                    .order_by(FulfilmentDelivery.next_attempt_at, FulfilmentDelivery.id)
                    .limit(BATCH)
                )
            ).scalars()
        )
        claimed: list[FulfilmentDelivery] = []
        for delivery_id in ids:
            row = await uow.session.execute(
                update(FulfilmentDelivery)
                .where(FulfilmentDelivery.id == delivery_id, _due(moment))  # type: ignore[arg-type]
                .values(
                    status=SENDING,
                    lease_until=moment + LEASE,
                    attempts=FulfilmentDelivery.attempts + 1,
                )
                .returning(FulfilmentDelivery.id)
                .execution_options(synchronize_session=False)
            )
            if row.scalar_one_or_none() is not None:
                delivery = await uow.session.get(
                    FulfilmentDelivery, delivery_id, populate_existing=True
                )
                assert delivery is not None
                claimed.append(delivery)
        for delivery in claimed:
            uow.session.expunge(delivery)
    return claimed


async def _send(ctx: Context, delivery: FulfilmentDelivery, endpoint: FulfilmentEndpoint | None,
                secret: str) -> Outcome:  # fmt: skip
    started = time.monotonic()
    code: int | None = None
    error: str | None = None
    if endpoint is None or not endpoint.active:
        error = "endpoint removed or disabled"
    else:
        body = fulfilment.body_bytes(delivery.payload)
        headers = {
            "content-type": "application/json",
            "user-agent": "Toonbank-Fulfilment/1",
            "toonbank-event": delivery.event,
            "toonbank-delivery": delivery.id,
            "toonbank-signature": fulfilment.sign(secret, body),
        }
        try:
            response = await ctx.http.post(
                endpoint.url,
                content=body,
                headers=headers,
                timeout=ctx.settings.dispatch_timeout,
                follow_redirects=False,
            )
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
    duration = int((time.monotonic() - started) * 1000)
    return Outcome(delivery.id, delivery.workspace_id, delivery.attempts, code, error, duration)


async def _record(ctx: Context, outcomes: list[Outcome]) -> None:
    moment = now()
    limit = ctx.settings.fulfilment_max_attempts
    async with ctx.db.uow() as uow:
        for out in outcomes:
            uow.session.add(
                FulfilmentAttempt(
                    workspace_id=out.workspace_id,
                    delivery_id=out.delivery_id,
                    attempt=out.attempt,
                    outcome=DELIVERED if out.ok else FAILED,
                    status_code=out.status_code,
                    error=out.error,
                    duration_ms=out.duration_ms,
                    created_at=moment,
                )
            )
            values: dict[str, object] = {
                "lease_until": None,
                "last_status_code": out.status_code,
                "last_error": out.error,
            }
            if out.ok:
                values.update(status=DELIVERED, delivered_at=moment)
            elif out.attempt >= limit:
                values.update(status=FAILED)
            else:
                values.update(status=PENDING, next_attempt_at=moment + backoff(ctx, out.attempt))
            await uow.session.execute(
                update(FulfilmentDelivery)
                .where(
                    FulfilmentDelivery.id == out.delivery_id, FulfilmentDelivery.status == SENDING
                )
                .values(**values)
            )
            log.info(
                "fulfilment_attempt",
                delivery_id=out.delivery_id,
                attempt=out.attempt,
                status_code=out.status_code,
                ok=out.ok,
            )


async def deliver_due(ctx: Context) -> int:
    """Send every delivery that is due now; returns how many attempts were made."""
    claimed = await _claim(ctx)
    if not claimed:
        return 0
    endpoint_ids = {d.endpoint_id for d in claimed}
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(FulfilmentEndpoint).where(FulfilmentEndpoint.id.in_(endpoint_ids))
        )
        endpoints = {e.id: e for e in rows.scalars()}
    secrets = {
        e.id: str(ctx.secret_box.open(e.secret).get("secret", "")) for e in endpoints.values()
    }
    outcomes = await asyncio.gather(
        *(
            _send(ctx, d, endpoints.get(d.endpoint_id), secrets.get(d.endpoint_id, ""))
            for d in claimed
        )
    )
    await _record(ctx, list(outcomes))
    return len(outcomes)
