"""One conformance suite for every realtime backend (in-process and Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from toonbank.realtime.bus import Bus, MemoryBus, RedisBus

REDIS_URL = "redis://127.0.0.1:6379/15"
BusFactory = Callable[[], Awaitable[Bus]]


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Creates connected buses; Redis buses share the server, memory buses share one instance."""
    created: list[Bus] = []
    shared = MemoryBus()

    async def factory() -> Bus:
        bus: Bus = RedisBus(REDIS_URL) if request.param == "redis" else shared
        if bus not in created:
            await bus.start()
            created.append(bus)
        return bus

    yield factory
    for bus in created:
        await bus.stop()


async def _settle() -> None:
    await asyncio.sleep(0.2)  # Redis subscriptions become active asynchronously


async def test_subscriber_receives_in_publish_order(make_bus: BusFactory) -> None:
    publisher, subscriber = await make_bus(), await make_bus()
    subscription = await subscriber.subscribe("conv:1")
    await _settle()
    for n in range(20):
        await publisher.publish("conv:1", {"n": n})
    got = [await subscription.get(timeout=2) for _ in range(20)]
    assert [m["n"] for m in got if m] == list(range(20))
    await subscription.close()


async def test_publish_many_delivers_every_topic_in_order(make_bus: BusFactory) -> None:
    publisher, subscriber = await make_bus(), await make_bus()
    first = await subscriber.subscribe("conv:a")
    second = await subscriber.subscribe("conv:b")
    await _settle()
    await publisher.publish_many([("conv:a" if n % 3 else "conv:b", {"n": n}) for n in range(30)])
    await publisher.publish_many([])
    got_a = [await first.get(timeout=2) for _ in range(20)]
    got_b = [await second.get(timeout=2) for _ in range(10)]
    assert [m["n"] for m in got_a if m] == [n for n in range(30) if n % 3]
    assert [m["n"] for m in got_b if m] == [n for n in range(30) if not n % 3]
    assert await first.get(timeout=0.3) is None
    await first.close()
    await second.close()


async def test_topics_are_isolated_and_unsubscribe_stops_delivery(make_bus: BusFactory) -> None:
    publisher, subscriber = await make_bus(), await make_bus()
    mine = await subscriber.subscribe("contact:a")
    await _settle()
    await publisher.publish("contact:b", {"secret": True})
    await publisher.publish("contact:a", {"ok": True})
    assert await mine.get(timeout=2) == {"ok": True}
    assert await mine.get(timeout=0.3) is None
    await mine.close()
    await publisher.publish("contact:a", {"late": True})
    assert await mine.get(timeout=0.3) is None


async def test_slow_subscriber_overflows_without_blocking_publisher(make_bus: BusFactory) -> None:
    publisher, subscriber = await make_bus(), await make_bus()
    subscription = await subscriber.subscribe("busy")
    subscription.queue = asyncio.Queue(maxsize=5)
    await _settle()
    async with asyncio.timeout(5):
        for n in range(50):
            await publisher.publish("busy", {"n": n})
        await _settle()
    assert subscription.overflowed
    await subscription.close()


async def test_a_subscription_is_live_when_subscribe_returns(make_bus: BusFactory) -> None:
    publisher, subscriber = await make_bus(), await make_bus()
    subscription = await subscriber.subscribe("at-once")
    await publisher.publish("at-once", {"first": True})  # no settling
    assert await subscription.get(timeout=2) == {"first": True}
    await subscription.close()


async def test_redis_carries_only_the_topics_a_process_listens_to() -> None:
    """A worker that listens to ``pipeline`` is not sent every workspace's events."""
    import uuid

    prefix = f"test-{uuid.uuid4().hex}:"
    bus = RedisBus(REDIS_URL, channel_prefix=prefix)
    await bus.start()
    try:
        first = await bus.subscribe("pipeline")
        second = await bus.subscribe("pipeline", "workspace:1")
        channels = {c.decode() for c in await bus._redis.pubsub_channels(prefix + "*")}
        assert channels == {prefix + "pipeline", prefix + "workspace:1"}
        await second.close()  # "pipeline" still has a subscriber
        await asyncio.sleep(0.2)
        channels = {c.decode() for c in await bus._redis.pubsub_channels(prefix + "*")}
        assert channels == {prefix + "pipeline"}
        await first.close()
        await asyncio.sleep(0.2)
        assert await bus._redis.pubsub_channels(prefix + "*") == []
    finally:
        await bus.stop()
