"""The worker: runs the normalize, process and dispatch stages until stopped.

``toonbank serve`` runs one in-process; ``toonbank worker`` runs them standalone for scale-out.
Stages wake on pipeline notifications (realtime bus, so across processes with Redis) and also
poll, so a lost notification only costs ``worker_poll_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from toonbank.commerce.tasks import run_due as run_commerce
from toonbank.context import PIPELINE_TOPIC, Context
from toonbank.inbox.maintenance import tick as inbox_tick
from toonbank.inbox.routing import route_queued
from toonbank.kit.crypto import new_secret
from toonbank.pipeline.dispatch import Dispatcher, next_due_in
from toonbank.pipeline.media import fetch_media_batch
from toonbank.pipeline.normalize import normalize_batch
from toonbank.pipeline.process import process_pending
from toonbank.pipeline.receipts import reconcile_pending_receipts

log = structlog.get_logger(__name__)
STAGES = ("normalize", "process", "dispatch", "media", "route", "commerce")
MAINTENANCE_INTERVAL = 5.0


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{new_secret(4)}"


class Worker:
    def __init__(self, ctx: Context, name: str | None = None) -> None:
        self.ctx = ctx
        self.name = name or worker_name()
        self.dispatcher = Dispatcher(ctx, self.name, ctx.settings.dispatch_concurrency)
        self._wake = {stage: asyncio.Event() for stage in STAGES}
        self.dispatcher.on_slot_free = self._wake["dispatch"].set
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        subscription = await self.ctx.bus.subscribe(PIPELINE_TOPIC)
        self._tasks = [
            asyncio.create_task(self._listen(subscription), name="worker-listen"),
            asyncio.create_task(self._loop("normalize", self._normalize), name="normalize"),
            asyncio.create_task(self._loop("process", self._process), name="process"),
            asyncio.create_task(self._loop("dispatch", self._dispatch), name="dispatch"),
            asyncio.create_task(self._loop("media", self._media), name="media"),
            asyncio.create_task(self._loop("route", self._route), name="route"),
            asyncio.create_task(self._loop("commerce", self._commerce), name="commerce"),
            asyncio.create_task(self._maintain(), name="maintenance"),
        ]
        log.info("worker_started", worker=self.name)

    async def _listen(self, subscription: Any) -> None:
        try:
            async for note in subscription:
                event = self._wake.get(note.get("stage", ""))
                if event is not None:
                    event.set()
        finally:
            await subscription.close()

    async def _normalize(self) -> int:
        return await normalize_batch(self.ctx, self.name)

    async def _process(self) -> int:
        return await process_pending(self.ctx, self.name, self.dispatcher)

    async def _dispatch(self) -> int:
        return await self.dispatcher.run_once()

    async def _media(self) -> int:
        return await fetch_media_batch(self.ctx)

    async def _route(self) -> int:
        return await route_queued(self.ctx)

    async def _commerce(self) -> int:
        return await run_commerce(self.ctx)  # payment link reminders/expiry, fulfilment webhooks

    async def _idle_timeout(self, stage: str) -> float:
        poll = self.ctx.settings.worker_poll_interval
        if stage == "commerce":  # minutes-scale deadlines; new deliveries wake it
            return poll * 10
        if stage == "route":  # woken when a conversation is queued; the sweep is a safety net
            return poll * 10
        if stage == "dispatch" and not self.dispatcher.saturated:
            # (saturated: a finishing send wakes the loop, no clock query needed)
            due = await next_due_in(self.ctx)
            if due is not None:
                return min(poll, max(0.01, due))
        return poll

    async def _loop(self, stage: str, step: Callable[[], Awaitable[int]]) -> None:
        wake = self._wake[stage]
        while not self._stopping.is_set():
            wake.clear()
            try:
                did = await step()
            except Exception:
                log.exception("stage_failed", stage=stage, worker=self.name)
                did = 0
                await asyncio.sleep(0.5)
            if did:
                continue
            timeout = await self._idle_timeout(stage)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)

    async def _maintain(self) -> None:
        """Periodic housekeeping: settle receipts that raced their message's send; inbox SLA
        timers, auto-reassign and CSAT answers."""
        while not self._stopping.is_set():
            try:
                await reconcile_pending_receipts(self.ctx)
                await inbox_tick(self.ctx)  # SLA warnings, auto-reassign, CSAT answers
            except Exception:
                log.exception("maintenance_failed", worker=self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), MAINTENANCE_INTERVAL)

    async def drain(self, timeout: float = 30.0) -> None:
        """Run every stage until nothing is left that is due now (tests, ``toonbank chat``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            did = await self._normalize() + await self._process() + await self._dispatch()
            await self.dispatcher.settle()
            did += await self._media() + await self._route()
            if not did:
                return
        raise TimeoutError("pipeline did not drain in time")

    async def stop(self, grace: float = 10.0) -> None:
        """Graceful: finish the step in flight (a transaction or a send), then exit."""
        self._stopping.set()
        for event in self._wake.values():
            event.set()
        listen, *loops = self._tasks
        if loops:
            _done, pending = await asyncio.wait(loops, timeout=grace)
            for task in pending:
                task.cancel()
        await self.dispatcher.settle(timeout=grace)  # sends in flight finish and are recorded
        listen.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info("worker_stopped", worker=self.name)
