"""A receiver for the custom API channel: what a business's system would run.

It verifies our signature, deduplicates on ``Idempotency-Key`` (as the protocol asks of real
receivers), records every delivery, can send signed delivery receipts back, and injects faults
on demand: HTTP errors with ``Retry-After``, slow answers (timeouts), dropped connections.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from toonbank.channels.api import sign, signed_headers
from toonbank.kit.crypto import constant_time_equal


@dataclass
class Fault:
    """Applied to the next request: an HTTP ``status`` (with ``retry_after``) or a ``delay``."""

    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    error_code: str | None = None


@dataclass
class Delivery:
    provider_id: str
    to: str
    content: dict[str, Any]
    idempotency_key: str
    received_at: float


@dataclass
class ApiReceiver:
    secret: str
    receipts_url: str | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    delay: float = 0.0
    """Seconds every request takes (a slow provider); faults add to it."""
    inflight: int = 0
    _by_key: dict[str, Delivery] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/messages", self._messages, methods=["POST"]),
                Route("/_sim/deliveries", self._list, methods=["GET"]),
                Route("/_sim/faults", self._add_faults, methods=["POST"]),
            ]
        )

    async def _messages(self, request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers.get("x-toonbank-timestamp", "")
        signature = request.headers.get("x-toonbank-signature", "")
        key = request.headers.get("idempotency-key", "")
        with self._lock:
            self.requests.append({"key": key, "at": time.time()})
            fault = self.faults.pop(0) if self.faults else None
            self.inflight += 1
        try:
            return await self._answer(body, timestamp, signature, key, fault)
        finally:
            with self._lock:
                self.inflight -= 1

    async def _answer(
        self, body: bytes, timestamp: str, signature: str, key: str, fault: Fault | None
    ) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if not constant_time_equal(sign(self.secret, timestamp, body), signature):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                headers = {"retry-after": str(fault.retry_after)} if fault.retry_after else {}
                return JSONResponse(
                    {"error": fault.error_code or "injected"}, fault.status, headers=headers
                )
        payload = json.loads(body)
        with self._lock:
            existing = self._by_key.get(key)
            if existing is None:
                existing = Delivery(
                    provider_id=f"sim-{next(self._ids)}",
                    to=payload["to"],
                    content=payload["content"],
                    idempotency_key=key,
                    received_at=time.time(),
                )
                self._by_key[key] = existing
                self.deliveries.append(existing)
                fresh = True
            else:
                fresh = False
        if fresh and self.receipts_url:
            asyncio.get_running_loop().create_task(self._receipt(existing.provider_id))
        return JSONResponse({"id": existing.provider_id}, status_code=200)

    async def _receipt(self, provider_id: str) -> None:
        body = json.dumps(
            {"statuses": [{"id": provider_id, "status": "delivered", "timestamp": time.time()}]}
        ).encode()
        assert self.receipts_url is not None
        async with httpx.AsyncClient() as client:
            await client.post(
                self.receipts_url, content=body, headers=signed_headers(self.secret, body)
            )

    async def _list(self, _request: Request) -> Response:
        with self._lock:
            data = [d.__dict__ for d in self.deliveries]
        return JSONResponse({"deliveries": data, "requests": len(self.requests)})

    async def _add_faults(self, request: Request) -> Response:
        items = await request.json()
        with self._lock:
            self.faults.extend(Fault(**item) for item in items)
        return JSONResponse({"queued": len(self.faults)})


class BackgroundServer:
    """Run an ASGI app with uvicorn in a thread on a free loopback port (tests, bench)."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        sockets = self.server.servers[0].sockets
        port = sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
