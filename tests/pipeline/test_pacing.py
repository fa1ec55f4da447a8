"""Outbound pacing: a connection's rate holds across worker processes (GCRA in Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid

from toonbank.pipeline.pacing import LocalPacer, RedisPacer, SendPacer, create_pacer

REDIS_URL = "redis://127.0.0.1:6379/13"


async def test_two_processes_share_one_schedule_of_slots() -> None:
    """Two pacers (as two worker processes) reserve consecutive slots, one interval apart."""
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = RedisPacer(REDIS_URL, prefix), RedisPacer(REDIS_URL, prefix)
    try:
        interval_us = 1_000_000  # 1 msg/s: every reservation after the first waits
        delays = []
        for i in range(6):
            pacer = (first, second)[i % 2]
            reserve = pacer._reserve
            delays.append(int(await reserve(keys=[prefix + "conn"], args=[interval_us])))
        for k, delay in enumerate(delays):
            # slot k starts k intervals after the first (minus the real time spent calling)
            assert k * interval_us - 500_000 < delay <= k * interval_us
        other = int(await first._reserve(keys=[prefix + "other"], args=[interval_us]))
        assert other == 0  # connections do not share a budget
    finally:
        await first.close()
        await second.close()


async def test_concurrent_senders_in_two_processes_never_beat_the_rate() -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    pacers = [RedisPacer(REDIS_URL, prefix), RedisPacer(REDIS_URL, prefix)]
    try:
        rate, sends = 50.0, 21
        started = time.monotonic()
        await asyncio.gather(*(pacers[i % 2].wait("conn", rate) for i in range(sends)))
        # 21 sends at 50/s need at least 20 intervals, whichever process sent them
        assert time.monotonic() - started >= (sends - 1) / rate - 0.005
    finally:
        for pacer in pacers:
            await pacer.close()


async def test_without_redis_a_process_paces_on_its_own() -> None:
    assert isinstance(create_pacer(None), LocalPacer)
    pacer = LocalPacer()
    started = time.monotonic()
    for _ in range(6):
        await pacer.wait("conn", 50.0)  # (under 100/s: one at a time, no burst)
    assert time.monotonic() - started >= 0.095


async def test_redis_outage_falls_back_to_local_pacing() -> None:
    pacer = RedisPacer("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        started = time.monotonic()
        for _ in range(6):
            await pacer.wait("conn", 50.0)
        assert pacer._degraded
        assert time.monotonic() - started >= 0.095  # still paced: 5 intervals of 20 ms
    finally:
        await pacer.close()


async def test_a_providers_retry_after_pushes_every_processs_next_slot() -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = RedisPacer(REDIS_URL, prefix), RedisPacer(REDIS_URL, prefix)
    try:
        await first.penalize("conn", 2.0)  # process one got 429 + Retry-After: 2
        delay = int(await second._reserve(keys=[prefix + "conn"], args=[1000]))
        assert 1_500_000 < delay <= 2_000_000  # process two waits too
        await LocalPacer().penalize("conn", 2.0)  # (a no-op: the local pause covers it)
    finally:
        await first.close()
        await second.close()


def _busiest_second(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def _burst(pacer: SendPacer, rate: float, sends: int) -> list[float]:
    done: list[float] = []

    async def one() -> None:
        await pacer.wait("conn", rate)
        done.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(sends)))
    return done


async def test_a_fast_connection_sends_in_bursts_yet_never_beats_its_rate() -> None:
    """At 500/s, 60 queued sends leave at once (not one event-loop tick apart), and no
    trailing second of 1,000 sends holds more than 500."""
    prefix = f"test:{uuid.uuid4().hex}:"
    for pacer in (LocalPacer(), RedisPacer(REDIS_URL, prefix)):
        try:
            started = time.monotonic()
            first = await _burst(pacer, 500.0, 10)
            assert max(first) - started < 0.05  # a burst of 10 (2% of 500) is not spaced
            more = await _burst(pacer, 500.0, 990)
            assert _busiest_second(first + more) <= 500
            assert max(more) - started > 1.5  # 1,000 sends at under 500/s take 2 s
            assert not getattr(pacer, "_degraded", False)  # 1,000 waiters share the pool
        finally:
            await pacer.close()
