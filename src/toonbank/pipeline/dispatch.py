"""Stage 4 — dispatch: deliver the outbox with retries, rate limits and an attempt log.

Per conversation, only the oldest undelivered reply is eligible, so replies arrive in order
even while one is being retried. A send is claimed (status ``sending`` + lease + attempt row)
and committed *before* the provider is called; if the process dies during the call the lease
expires and the send is retried with the same idempotency key. Providers that honour the key
(``Manifest.idempotent_sends``) deliver exactly once; for the others the residual window is
the duration of one HTTP call (see docs/pipeline.md).
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from typing import Any

import httpx
import structlog
from aiolimiter import AsyncLimiter
from pydantic import ValidationError
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

from toonbank.channels.base import Connection, SendError, SendResult
from toonbank.channels.content import parse_content
from toonbank.conversations.events import record_event
from toonbank.kit.clock import now
from toonbank.models import DeliveryAttempt, Message
from toonbank.ops import metrics
from toonbank.pipeline.receipts import apply_pending_receipts, apply_receipt

log = structlog.get_logger(__name__)
ACTIVE = ("queued", "sending")


def backoff_seconds(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    delay = random.uniform(0, min(cap, base * 2 ** max(0, attempt - 1)))
    delay = max(delay, base / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


async def due_messages(ctx: Any, limit: int = 200) -> list[int]:
    """Outbound messages that may be sent now: due, unleased, first in their conversation."""
    moment = now()
    earlier = aliased(Message)
    async with ctx.db.session() as session:
        result = await session.execute(
            select(Message.id)
            .where(
                Message.status.in_(ACTIVE),
                Message.direction == "out",
                Message.next_attempt_at <= moment,
                or_(Message.lease_until.is_(None), Message.lease_until < moment),
                ~exists().where(
                    and_(
                        earlier.conversation_id == Message.conversation_id,
                        earlier.direction == "out",
                        earlier.status.in_(ACTIVE),
                        earlier.id < Message.id,
                    )
                ),
            )
            .order_by(Message.id)
            .limit(limit)
        )
        return list(result.scalars())


class Dispatcher:
    """Sends due outbox rows; one instance per worker process."""

    def __init__(self, ctx: Any, owner: str, concurrency: int = 64) -> None:
        self.ctx = ctx
        self.owner = owner
        self._semaphore = asyncio.Semaphore(concurrency)
        self._limiters: dict[str, AsyncLimiter] = {}
        self._paused_until: dict[str, float] = {}
        self._inflight: set[int] = set()

    def _limiter(self, connection: Connection) -> AsyncLimiter | None:
        adapter = self.ctx.channels.get(connection.type)
        rate = connection.rate_per_second or adapter.manifest.default_rate_per_second
        if not rate:
            return None
        limiter = self._limiters.get(connection.id)
        if limiter is None:
            # One token per 1/rate seconds: evenly spaced, never a burst above the rate.
            limiter = AsyncLimiter(1, 1.0 / rate)
            self._limiters[connection.id] = limiter
        return limiter

    async def run_once(self) -> int:
        """Send every message that is due now (concurrently across conversations)."""
        ids = [i for i in await due_messages(self.ctx) if i not in self._inflight]
        if not ids:
            return 0
        self._inflight.update(ids)
        try:
            results = await asyncio.gather(*(self._guarded(i) for i in ids))
        finally:
            self._inflight.difference_update(ids)
        return sum(results)

    async def _guarded(self, message_id: int) -> int:
        async with self._semaphore:
            try:
                return await self.deliver(message_id)
            except Exception:
                log.exception("dispatch_crashed", message_id=message_id)
                return 0

    async def _claim(self, message_id: int) -> tuple[Message, DeliveryAttempt] | None:
        moment = now()
        lease = self.ctx.settings.dispatch_timeout + 5.0
        async with self.ctx.db.uow() as uow:
            session = uow.session
            claimed = await session.execute(
                update(Message)
                .where(
                    Message.id == message_id,
                    Message.status.in_(ACTIVE),
                    or_(Message.lease_until.is_(None), Message.lease_until < moment),
                )
                .values(
                    status="sending",
                    lease_owner=self.owner,
                    lease_until=moment + timedelta(seconds=lease),
                    attempts=Message.attempts + 1,
                )
            )
            if not claimed.rowcount:
                return None
            # An attempt still "started" belongs to a worker that died mid-send.
            await session.execute(
                update(DeliveryAttempt)
                .where(
                    DeliveryAttempt.message_id == message_id, DeliveryAttempt.outcome == "started"
                )
                .values(outcome="unknown", error_detail="worker stopped during the send")
            )
            message = await session.get(Message, message_id)
            assert message is not None
            attempt = DeliveryAttempt(
                workspace_id=message.workspace_id,
                message_id=message_id,
                attempt=message.attempts,
                worker=self.owner,
                started_at=moment,
            )
            session.add(attempt)
        return message, attempt

    async def deliver(self, message_id: int) -> int:
        """Claim, send and record one message. Returns 1 when it was handed to the provider."""
        claimed = await self._claim(message_id)
        if claimed is None:
            return 0
        message, attempt = claimed
        connection = (
            await self.ctx.connections.get(message.connection_id) if message.connection_id else None
        )
        if connection is None:
            await self._finish(
                message,
                attempt,
                None,
                SendError("connection is gone", retryable=False, error_code="no_connection"),
                "none",
            )
            return 0
        pause = self._paused_until.get(connection.id, 0.0) - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        limiter = self._limiter(connection)
        if limiter is not None:
            await limiter.acquire()
        result: SendResult | None = None
        error: SendError | None = None
        try:
            result = await self._send(connection, message)
        except SendError as exc:
            error = exc
            if exc.http_status == 429 and exc.retry_after:
                self._paused_until[connection.id] = time.monotonic() + exc.retry_after
        await self._finish(message, attempt, result, error, connection.type)
        return 1 if error is None else 0

    async def _send(self, connection: Connection, message: Message) -> SendResult:
        adapter = self.ctx.channels.get(connection.type)
        try:
            content = parse_content(message.content)
        except ValidationError as exc:
            raise SendError(
                f"stored content is invalid: {exc}", retryable=False, error_code="content"
            ) from None
        if not message.recipient and not adapter.manifest.internal:
            raise SendError(
                "no recipient known on this connection", retryable=False, error_code="no_recipient"
            )
        try:
            return await adapter.send(
                self.ctx.http,
                connection,
                message.recipient or "",
                content,
                idempotency_key=f"toonbank-{message.id}",
            )
        except httpx.TimeoutException:
            raise SendError("provider timed out", retryable=True, error_code="timeout") from None
        except httpx.TransportError as exc:
            raise SendError(
                f"network error: {type(exc).__name__}", retryable=True, error_code="network"
            ) from None

    async def _finish(
        self,
        message: Message,
        attempt: DeliveryAttempt,
        result: SendResult | None,
        error: SendError | None,
        channel: str,
    ) -> None:
        settings = self.ctx.settings
        moment = now()
        async with self.ctx.db.uow() as uow:
            session = uow.session
            row = await session.get(Message, message.id, with_for_update=not self.ctx.db.is_sqlite)
            record = await session.get(DeliveryAttempt, attempt.id)
            assert row is not None and record is not None
            record.finished_at = moment
            if row.lease_owner != self.owner or row.status != "sending":
                # Our lease expired and another worker took over; only log the attempt.
                record.outcome = "sent" if error is None else "superseded"
                return
            row.lease_owner = None
            row.lease_until = None
            if error is None:
                assert result is not None
                record.outcome = "sent"
                if result.provider_message_id:
                    row.provider_message_id = result.provider_message_id
                await apply_receipt(uow, self.ctx.bus, row, "sent", occurred_at=moment)
                await apply_pending_receipts(uow, self.ctx.bus, row)
                metrics.MESSAGES_OUT.labels(channel, "sent").inc()
                metrics.DELIVERY_LATENCY.labels(channel).observe(
                    max(0.0, (moment - row.created_at).total_seconds())
                )
                return
            record.http_status = error.http_status
            record.error_code = error.error_code
            record.error_detail = error.detail[:1000]
            record.retry_after = error.retry_after
            if error.retryable and row.attempts < settings.dispatch_max_attempts:
                record.outcome = "retry"
                row.status = "queued"
                delay = backoff_seconds(
                    row.attempts,
                    settings.retry_base_seconds,
                    settings.retry_max_seconds,
                    error.retry_after,
                )
                row.next_attempt_at = moment + timedelta(seconds=delay)
                metrics.RETRIES.labels(channel).inc()
                uow.on_commit(lambda: self.ctx.wake("dispatch_later"))
                return
            record.outcome = "failed"
            row.status = "failed"
            row.failed_at = moment
            row.error_code = error.error_code
            row.error_detail = error.detail[:1000]
            metrics.FAILURES.labels(channel).inc()
            metrics.MESSAGES_OUT.labels(channel, "failed").inc()
            await record_event(
                uow,
                self.ctx.bus,
                workspace_id=row.workspace_id,
                conversation_id=row.conversation_id,
                contact_id=row.contact_id,
                type="message_status",
                data={"message_id": row.id, "status": "failed", "error_code": error.error_code},
            )


async def next_due_in(ctx: Any) -> float | None:
    """Seconds until the earliest scheduled retry (None when the outbox is empty)."""
    from sqlalchemy import func

    async with ctx.db.session() as session:
        due = await session.scalar(
            select(func.min(Message.next_attempt_at)).where(
                Message.status.in_(ACTIVE), Message.direction == "out"
            )
        )
    if due is None:
        return None
    if due.tzinfo is None:
        from datetime import UTC

        due = due.replace(tzinfo=UTC)
    return max(0.0, (due - now()).total_seconds())


async def outbox_depth(ctx: Any) -> int:
    from sqlalchemy import func

    async with ctx.db.session() as session:
        value = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.status.in_(ACTIVE), Message.direction == "out")
        )
    return int(value or 0)
