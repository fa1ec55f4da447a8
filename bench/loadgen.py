"""Load generation in child processes: closed loop (throughput) and open loop (fixed rate).

Each child precomputes every signed request *before* the timed phase, reports ``ready``, and
starts sending when the parent says ``go`` (so spawning and signing never count). Timestamps
are wall-clock seconds (``time.time()``), the clock the provider simulator stamps deliveries
with, so the parent can match a reply seen by the receiver to the message that caused it.

Every loop is bounded: by the number of precomputed requests, by the phase's end time, and by
a per-request timeout; the parent kills children that overstay.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from typing import Any, TypeVar

from bench.rawhttp import ERROR, HttpConnection, build_request

T = TypeVar("T")
REQUEST_TIMEOUT = 30.0
"""Seconds one request may take before it counts as an error."""


@dataclass(frozen=True)
class Target:
    """Where the webhooks go and the secret that signs them."""

    host: str
    port: int
    path: str
    secret: str


@dataclass(frozen=True)
class Messages:
    """A family of unique text messages ``{prefix}-m{i}``.

    With ``senders=None`` every message has its own sender ``{prefix}-c{i}``; otherwise the
    senders rotate through a pool of that size.
    """

    prefix: str
    senders: int | None = None
    text: str = "bench message {i}"

    def sender(self, i: int) -> str:
        """The sender (``from``) of message ``i``; the reply's ``to``."""
        return f"{self.prefix}-c{i if self.senders is None else i % self.senders}"

    def payload(self, indices: range) -> dict[str, Any]:
        """A webhook body carrying the messages with these indices."""
        return {
            "messages": [
                {
                    "id": f"{self.prefix}-m{i}",
                    "from": self.sender(i),
                    "content": {"type": "text", "text": self.text.format(i=i)},
                }
                for i in indices
            ]
        }


def signed_body(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """JSON body and headers signed exactly as the custom API channel expects."""
    from toonbank.channels.api import signed_headers

    body = json.dumps(payload, separators=(",", ":")).encode()
    return body, signed_headers(secret, body)


def signed_requests(target: Target, messages: Messages, indices: range) -> list[bytes]:
    """One raw request per message index (one message per webhook), all signed now."""
    requests = []
    for i in indices:
        body, headers = signed_body(target.secret, messages.payload(range(i, i + 1)))
        requests.append(build_request(target.host, target.port, target.path, body, headers))
    return requests


@dataclass
class ClosedLoopResult:
    """One child's closed-loop samples: ``(sent, done, status)`` per request."""

    start: float
    measure_from: float
    end: float
    samples: list[tuple[float, float, int]] = field(default_factory=list)
    exhausted: bool = False
    cpu_seconds: float = 0.0


@dataclass
class OpenLoopResult:
    """Message ``i`` was scheduled at ``start + i / rate``; its ack came at ``done[i]``."""

    start: float
    rate: float
    done: list[float]
    status: list[int]
    cpu_seconds: float = 0.0

    def scheduled(self, i: int) -> float:
        return self.start + i / self.rate


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on uvloop when it is installed (it is with ``uvicorn[standard]``)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(factory())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(factory())


async def _closed_loop(
    target: Target, requests: list[bytes], connections: int, warmup: float, duration: float
) -> ClosedLoopResult:
    start = time.time()
    result = ClosedLoopResult(start, start + warmup, start + warmup + duration)
    pending = iter(requests)

    async def client() -> None:
        conn = HttpConnection(target.host, target.port, REQUEST_TIMEOUT)
        try:
            for raw in pending:
                sent = time.time()
                if sent >= result.end:
                    return
                status = await conn.request(raw)
                result.samples.append((sent, time.time(), status))
                if status == ERROR:
                    await asyncio.sleep(0.01)  # a refused connection must not spin
            result.exhausted = True
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return result


async def _open_loop(
    target: Target, requests: list[bytes], rate: float, max_connections: int
) -> OpenLoopResult:
    pool: asyncio.LifoQueue[HttpConnection] = asyncio.LifoQueue()
    for _ in range(max_connections):
        pool.put_nowait(HttpConnection(target.host, target.port, REQUEST_TIMEOUT))
    result = OpenLoopResult(time.time(), rate, [math.nan] * len(requests), [ERROR] * len(requests))

    async def send(i: int, raw: bytes) -> None:
        conn = await pool.get()
        try:
            result.status[i] = await conn.request(raw)
        finally:
            pool.put_nowait(conn)
        result.done[i] = time.time()

    tasks = []
    for i, raw in enumerate(requests):
        delay = result.scheduled(i) - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i, raw)))
    if tasks:
        _done, late = await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT + 5)
        for task in late:
            task.cancel()
    while not pool.empty():
        pool.get_nowait().close()
    return result


def _child(
    index: int,
    prepare: Callable[[], list[bytes]],
    phase: Callable[[list[bytes]], Coroutine[Any, Any, Any]],
    go: Event,
    out: multiprocessing.Queue[tuple[str, int, Any]],
) -> None:
    try:
        requests = prepare()
        out.put(("ready", index, len(requests)))
        if not go.wait(timeout=180):
            return
        cpu = time.process_time()
        result = _run(lambda: phase(requests))
        result.cpu_seconds = time.process_time() - cpu
        out.put(("result", index, result))
    except BaseException:
        out.put(("error", index, traceback.format_exc()))


@dataclass(frozen=True)
class _Prepare:
    target: Target
    messages: Messages
    indices: range

    def __call__(self) -> list[bytes]:
        return signed_requests(self.target, self.messages, self.indices)


@dataclass(frozen=True)
class _ClosedPhase:
    target: Target
    connections: int
    warmup: float
    duration: float

    def __call__(self, requests: list[bytes]) -> Coroutine[Any, Any, ClosedLoopResult]:
        return _closed_loop(self.target, requests, self.connections, self.warmup, self.duration)


@dataclass(frozen=True)
class _OpenPhase:
    target: Target
    rate: float
    max_connections: int

    def __call__(self, requests: list[bytes]) -> Coroutine[Any, Any, OpenLoopResult]:
        return _open_loop(self.target, requests, self.rate, self.max_connections)


def _orchestrate(
    jobs: list[tuple[_Prepare, Any]], runtime: float, on_start: Callable[[], None] | None
) -> list[Any]:
    """Start one child per job, wait until all are ready, say go, and collect the results.

    ``on_start`` runs right after go (to start measuring the server's CPU, for instance).
    """
    mp = multiprocessing.get_context("spawn")
    go = mp.Event()
    out: multiprocessing.Queue[tuple[str, int, Any]] = mp.Queue()
    children = [
        mp.Process(target=_child, args=(k, prep, phase, go, out), daemon=True)
        for k, (prep, phase) in enumerate(jobs)
    ]
    for child in children:
        child.start()
    results: dict[int, Any] = {}
    try:
        ready = 0
        deadline = time.monotonic() + 120
        while ready < len(children):
            kind, k, value = _next(out, children, deadline)
            if kind == "error":
                raise RuntimeError(f"load generator {k} failed:\n{value}")
            ready += 1
        go.set()
        if on_start is not None:
            on_start()
        deadline = time.monotonic() + runtime + REQUEST_TIMEOUT + 30
        while len(results) < len(children):
            kind, k, value = _next(out, children, deadline)
            if kind == "error":
                raise RuntimeError(f"load generator {k} failed:\n{value}")
            results[k] = value
    finally:
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
    return [results[k] for k in range(len(children))]


def _next(
    out: multiprocessing.Queue[tuple[str, int, Any]],
    children: list[Any],
    deadline: float,
) -> tuple[str, int, Any]:
    while time.monotonic() < deadline:
        try:
            return out.get(timeout=0.5)
        except queue.Empty:
            if not all(child.is_alive() for child in children):
                # A child that exited may still have a message in flight: one last look.
                try:
                    return out.get(timeout=1.0)
                except queue.Empty:
                    raise RuntimeError("a load generator process died") from None
    raise TimeoutError("load generators did not finish in time")


def closed_loop(
    target: Target,
    messages: Messages,
    *,
    processes: int,
    connections: int,
    warmup: float,
    duration: float,
    max_rate: float,
    on_start: Callable[[], None] | None = None,
) -> list[ClosedLoopResult]:
    """As many requests as ``processes x connections`` keep-alive connections carry.

    Each process precomputes ``max_rate x (warmup + duration) / processes`` unique requests;
    a process that runs out stops early and says so (``exhausted``).
    """
    per = math.ceil(max_rate * (warmup + duration) / processes)
    phase = _ClosedPhase(target, connections, warmup, duration)
    jobs = [
        (_Prepare(target, messages, range(k * per, (k + 1) * per)), phase) for k in range(processes)
    ]
    return _orchestrate(jobs, warmup + duration, on_start)


def open_loop(
    target: Target,
    messages: Messages,
    *,
    count: int,
    rate: float,
    max_connections: int = 64,
    on_start: Callable[[], None] | None = None,
) -> OpenLoopResult:
    """Send ``count`` messages at ``rate``/s on schedule, whatever the server's pace."""
    jobs = [(_Prepare(target, messages, range(count)), _OpenPhase(target, rate, max_connections))]
    result: OpenLoopResult = _orchestrate(jobs, count / rate, on_start)[0]
    return result
