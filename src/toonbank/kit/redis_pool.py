"""Redis connection pools that wait for a free connection instead of failing.

redis-py's default pool raises ``MaxConnectionsError`` once 100 connections are in use; under
a burst (hundreds of sends reserving pacing slots at once) that turned into errors and a
fall-back to per-process pacing. A blocking pool queues the callers instead: Redis answers
each call in well under a millisecond, so a short queue costs little and a connection storm
costs nothing.
"""

from __future__ import annotations

from typing import Any

MAX_CONNECTIONS = 64
WAIT_SECONDS = 10.0


def blocking_pool(url: str, max_connections: int = MAX_CONNECTIONS) -> Any:
    import redis.asyncio as redis

    return redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=WAIT_SECONDS
    )


def redis_client(url: str, max_connections: int = MAX_CONNECTIONS) -> Any:
    """An asyncio Redis client on a :func:`blocking_pool` (closing it closes the pool)."""
    import redis.asyncio as redis

    return redis.Redis.from_pool(blocking_pool(url, max_connections))  # owns the pool
