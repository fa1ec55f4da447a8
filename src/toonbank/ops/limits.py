"""Request-size limits (ASGI middleware) and rate limits for public endpoints."""

from __future__ import annotations

import json
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toonbank.kit.redis_pool import blocking_pool


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` (413) whether or not Content-Length is honest.

    Paths under ``large_prefixes`` (uploads) get ``large_bytes`` instead.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        large_bytes: int,
        large_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.large_bytes = large_bytes
        self.large_prefixes = large_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.max_bytes
        if any(path.startswith(p) and path.endswith("/upload") for p in self.large_prefixes):
            limit = self.large_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": "too_large", "detail": f"request body exceeds {limit} bytes"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Moving-window limits keyed by caller (in memory, or shared through Redis)."""

    def __init__(self, limit: str, redis_url: str | None = None) -> None:
        self.item: RateLimitItem = parse(limit)
        self._pool: Any = None
        storage: Any = MemoryStorage()
        if redis_url:
            # Our own pool, so the connections can be closed at shutdown.
            self._pool = blocking_pool(redis_url)
            storage = storage_from_string(
                f"async+{redis_url}", implementation="redispy", connection_pool=self._pool
            )
        self._limiter = MovingWindowRateLimiter(storage)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(self, *keys: str) -> bool:
        """Count one request; False when the caller is over the limit."""
        return bool(await self._limiter.hit(self.item, *keys))
