"""The realtime port and its backends.

Messages are JSON-able dicts published on string topics (``contact:<id>``,
``workspace:<id>``, ``pipeline``). Delivery is at-most-once and best effort: durable state
lives in the event log, and clients resume from ``last_event_id``, so a lost realtime message
only delays a client until its next replay. Publish only after commit (see
:class:`toonbank.db.UnitOfWork`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

import structlog

from toonbank.kit.redis_pool import redis_client

log = structlog.get_logger(__name__)


class Subscription:
    """A queue of messages for one subscriber; iterate it, close it when done."""

    def __init__(self, bus: Bus, topics: tuple[str, ...], maxsize: int = 1000) -> None:
        self.topics = topics
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self._bus = bus
        self.overflowed = False

    def deliver(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # A stuck client must not stall the publisher; it recovers by replaying the log.
            self.overflowed = True

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.queue.get()

    async def close(self) -> None:
        await self._bus.unsubscribe(self)


class Bus(Protocol):
    async def publish(self, topic: str, message: dict[str, Any]) -> None: ...

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish ``(topic, message)`` pairs in order (one round trip where the backend can)."""

    async def subscribe(self, *topics: str) -> Subscription: ...

    async def unsubscribe(self, subscription: Subscription) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class MemoryBus:
    """In-process fan-out: the embedded default for a single ``toonbank serve``."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._subscribers.clear()

    def _local_publish(self, topic: str, message: dict[str, Any]) -> None:
        for subscription in list(self._subscribers.get(topic, ())):
            subscription.deliver(message)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        self._local_publish(topic, message)

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        for topic, message in messages:
            await self.publish(topic, message)

    async def subscribe(self, *topics: str) -> Subscription:
        subscription = Subscription(self, topics)
        for topic in topics:
            self._subscribers[topic].add(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[topic]


class RedisBus(MemoryBus):
    """Cross-process fan-out over Redis pub/sub; local subscribers are served by MemoryBus.

    The process subscribes in Redis only to the topics it has local subscribers for, so a
    worker (which listens to ``pipeline`` alone) is not sent every workspace's events, and an
    API process only its open widgets' and inboxes' topics. :meth:`subscribe` returns once
    Redis has confirmed the subscription: a message published after that reaches it.
    """

    CONFIRM_TIMEOUT = 2.0

    def __init__(self, url: str, channel_prefix: str = "toonbank:") -> None:
        super().__init__()
        self._redis = redis_client(url)
        self._prefix = channel_prefix
        self._pubsub = self._redis.pubsub()
        self._task: asyncio.Task[None] | None = None
        self._confirmed: dict[str, asyncio.Event] = {}  # channel -> set once Redis confirmed
        self._active = asyncio.Event()  # at least one channel subscribed (the listener waits)
        self._changing = asyncio.Lock()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-bus")

    async def _listen(self) -> None:
        while True:
            try:
                if not self._pubsub.subscribed:
                    self._active.clear()
                    await self._active.wait()
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis_bus_receive_failed")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel = message["channel"].decode()
            if message["type"] == "subscribe":
                confirmed = self._confirmed.get(channel)
                if confirmed is not None:
                    confirmed.set()
                continue
            if message["type"] != "message":
                continue
            self._local_publish(channel[len(self._prefix) :], json.loads(message["data"]))

    async def subscribe(self, *topics: str) -> Subscription:
        new = [t for t in topics if not self._subscribers.get(t)]
        subscription = await super().subscribe(*topics)
        if new:
            async with self._changing:
                channels = [
                    self._prefix + t for t in new if self._prefix + t not in self._confirmed
                ]
                for channel in channels:
                    self._confirmed[channel] = asyncio.Event()
                if channels:
                    await self._pubsub.subscribe(*channels)
                    self._active.set()
            for topic in new:
                confirmed = self._confirmed.get(self._prefix + topic)
                if confirmed is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(confirmed.wait(), self.CONFIRM_TIMEOUT)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        await super().unsubscribe(subscription)
        gone = [t for t in subscription.topics if not self._subscribers.get(t)]
        if not gone:
            return
        async with self._changing:
            channels = []
            for topic in gone:
                channel = self._prefix + topic
                if not self._subscribers.get(topic) and channel in self._confirmed:
                    del self._confirmed[channel]
                    channels.append(channel)
            if channels:
                with contextlib.suppress(Exception):  # best effort: the connection may be gone
                    await self._pubsub.unsubscribe(*channels)

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + topic, json.dumps(message))

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        if not messages:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for topic, message in messages:
                pipe.publish(self._prefix + topic, json.dumps(message))
            await pipe.execute()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._pubsub.aclose()
        await self._redis.aclose()
        await super().stop()


def create_bus(redis_url: str | None) -> Bus:
    return RedisBus(redis_url) if redis_url else MemoryBus()
