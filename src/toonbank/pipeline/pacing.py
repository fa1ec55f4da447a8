"""Outbound pacing per channel connection: never faster than the provider allows.

A connection's rate (``--rate``, or the adapter's default such as WhatsApp's 80 msg/s) is a
budget shared by every worker process that sends through it. In one process an
:class:`aiolimiter.AsyncLimiter` per connection spaces the sends evenly. With several worker
processes (``TOONBANK_REDIS_URL`` set) the slots are reserved in Redis instead, with the
generic cell rate algorithm (GCRA): one atomic script moves the connection's *theoretical
arrival time* one interval forward and tells the caller how long to wait for its slot. The
processes together then hold the configured rate exactly, with no burst above it and no
polling.

Fast connections may send a small burst (:func:`schedule`: 2% of a second's budget) instead of
one send per interval: an interval of 0.1 ms is far below what an event loop can time (its
timers have millisecond resolution and fire only between other work), so strictly spaced
sends would be serialized one loop iteration apart and throughput would collapse far below
the configured rate. The refill rate is lowered by the burst size, so any trailing second still
holds at most the configured rate; slow connections (under 100/s) keep a burst of one.

Both pace a little below the configured rate (:data:`HEADROOM`, :data:`SHARED_HEADROOM`).
Each send still travels its own path (event loop, HTTP) after its slot; when one send is a few
ms late and the next is on time, a provider counting any trailing second sees one send too many.
3% (about 30 ms per second of sends; 5% across processes) absorbs that jitter.
``bench/burst.py`` measures it: at exactly 80 msg/s a burst drew a few 429s, each pausing the
connection for the provider's Retry-After.

Should Redis fail, sending falls back to the local limiter (and logs it) rather than
stopping.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog
from aiolimiter import AsyncLimiter

from toonbank.kit.redis_pool import redis_client

log = structlog.get_logger(__name__)

# KEYS[1]: the connection's key. ARGV[1]: interval between sends in microseconds; ARGV[2]
# (optional): how many intervals early a slot may be taken (burst - 1; GCRA's tolerance).
# Returns the microseconds the caller must wait before its send. Redis' own clock is used,
# so processes on machines with skewed clocks still share one schedule.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local early = tonumber(ARGV[2] or '0') * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil((tat + interval - now) / 1000) + 1000)
if tat - early > now then return tat - early - now end
return 0
"""


BURST_SHARE = 0.02
"""Burst allowed on a fast connection, as a share of its per-second rate."""
HEADROOM = 0.97
SHARED_HEADROOM = 0.95
"""Across processes the sends of consecutive slots take different paths (other event loops,
other connections), so their arrival jitters more: 5% (about 50 ms per second of sends)."""


_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local target = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < target then
  redis.call('SET', KEYS[1], target, 'PX', math.ceil((target - now) / 1000) + 1000)
end
return 0
"""


def schedule(rate: float, headroom: float) -> tuple[float, int]:
    """``(refill per second, burst)`` for a connection allowed ``rate`` sends per second.

    A full bucket plus a second of refill is ``burst + refill`` = ``rate * headroom + 1``:
    the same bound as strictly spaced sends (one at the start of the second, then one per
    interval), whatever the burst.
    """
    burst = max(1, int(rate * BURST_SHARE))
    return rate * headroom - (burst - 1), burst


class SendPacer(Protocol):
    async def wait(self, key: str, rate: float) -> None:
        """Return when one more send on ``key`` keeps it at or below ``rate`` per second."""

    async def penalize(self, key: str, seconds: float) -> None:
        """The provider asked to wait (429 + Retry-After): no new slot before then."""

    async def close(self) -> None: ...


class LocalPacer:
    """Paced sends within this process (a token bucket of :func:`schedule`'s size)."""

    def __init__(self) -> None:
        self._limiters: dict[str, tuple[float, AsyncLimiter]] = {}

    async def wait(self, key: str, rate: float) -> None:
        known = self._limiters.get(key)
        if known is None or known[0] != rate:
            refill, burst = schedule(rate, HEADROOM)
            known = (rate, AsyncLimiter(burst, burst / refill))
            self._limiters[key] = known
        await known[1].acquire()

    async def penalize(self, key: str, seconds: float) -> None:
        return None  # in one process the dispatcher's own pause covers it

    async def close(self) -> None:
        self._limiters.clear()


class RedisPacer:
    """Slots reserved in Redis, so all worker processes share each connection's rate."""

    def __init__(self, redis_url: str, prefix: str = "toonbank:pace:") -> None:
        self._redis: Any = redis_client(redis_url)
        self._reserve: Any = self._redis.register_script(_RESERVE)
        self._penalize: Any = self._redis.register_script(_PENALIZE)
        self._prefix = prefix
        self._fallback = LocalPacer()
        self._degraded = False

    async def wait(self, key: str, rate: float) -> None:
        refill, burst = schedule(rate, SHARED_HEADROOM)
        interval_us = max(1, round(1_000_000 / refill))
        try:
            delay_us = int(
                await self._reserve(keys=[self._prefix + key], args=[interval_us, burst - 1])
            )
        except Exception as exc:  # Redis down: keep sending, paced per process
            if not self._degraded:
                log.warning("pacing_redis_unavailable", error=type(exc).__name__)
                self._degraded = True
            await self._fallback.wait(key, rate)  # (applies the headroom itself)
            return
        if self._degraded:
            log.info("pacing_redis_restored")
            self._degraded = False
        if delay_us > 0:
            await asyncio.sleep(delay_us / 1_000_000)

    async def penalize(self, key: str, seconds: float) -> None:
        """Every process's next slot comes after the provider's Retry-After."""
        try:
            await self._penalize(keys=[self._prefix + key], args=[round(seconds * 1_000_000)])
        except Exception as exc:  # the local pause still holds this process back
            log.warning("pacing_penalty_failed", error=type(exc).__name__)

    async def close(self) -> None:
        await self._redis.aclose()


def create_pacer(redis_url: str | None) -> SendPacer:
    return RedisPacer(redis_url) if redis_url else LocalPacer()
