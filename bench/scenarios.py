"""The two measurements, each for Toonbank and for the bare baseline.

* :func:`ingest`: closed-loop load of unique signed webhooks (one message each) against
  ``toonbank serve --workers 2 --no-worker`` or the baseline with 2 workers.
* :func:`turn`: open-loop load at a fixed rate; the latency of a turn is the time from the
  message's *scheduled* send to the moment the provider simulator (``ApiReceiver``) got the
  reply addressed to that message's sender. Toonbank runs as ``toonbank serve`` (one process,
  embedded worker); the baseline as one process that inserts a row and POSTs the reply.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.breakdown import StageStats, stage_breakdown
from bench.loadgen import (
    ClosedLoopResult,
    Messages,
    OpenLoopResult,
    Target,
    closed_loop,
    open_loop,
    signed_body,
)
from bench.servers import (
    HOST,
    CpuMeter,
    CpuUse,
    Server,
    baseline_server,
    fresh_database,
    setup_api_channel,
    toonbank_env,
    toonbank_server,
)
from bench.stats import percentile
from toonbank.simulator.api_channel import ApiReceiver, BackgroundServer

SECRET = secrets.token_urlsafe(24)
"""Webhook secret of this run's API channel (and of the provider simulator)."""
TOONBANK = "toonbank"
BASELINE = "baseline"
PREWARM_BATCH = 100
"""Messages per webhook when pre-warming senders (the API channel's maximum)."""
PREWARM_TIMEOUT = 120.0
"""Seconds the pre-warm replies may take before the run is abandoned."""


@dataclass(frozen=True)
class Config:
    """Durations, load shapes and where PostgreSQL is."""

    ingest_warmup: float = 2.0
    ingest_duration: float = 10.0
    ingest_processes: int = 2
    ingest_connections: int = 8
    """Keep-alive connections per load-generator process."""
    ingest_max_rate: float = 6000.0
    """Requests/s the precomputed bodies must last for (a run that runs out says so)."""
    turn_rate: float = 200.0
    turn_warmup: float = 2.0
    turn_duration: float = 10.0
    turn_drain: float = 15.0
    """Seconds to wait after the last send for the remaining replies."""
    channel_rate: int = 10_000
    """The API channel's send rate limit (``--rate``); the default 100/s is below the load."""
    pg_admin_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class IngestStats:
    """Closed-loop ingest results of one server."""

    system: str
    backend: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    ok: int
    errors: int
    concurrency: int
    exhausted: bool
    server_cores: float
    client_cores: float
    machine_cores: float


@dataclass
class TurnStats:
    """Open-loop turn results of one server; unanswered messages count as infinitely late."""

    system: str
    backend: str
    rate: float
    sent: int
    acked: int
    answered: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    ack_p99_ms: float
    server_cores: float
    client_cores: float
    machine_cores: float
    cpu_ms_per_message: float = math.nan
    """Server CPU (all its processes) from the first timed send until the last reply arrived,
    divided by the messages sent: the work a turn costs, whatever the machine's noise."""
    stages: list[StageStats] = field(default_factory=list)


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="toonbank-bench-") as tmp:
        yield Path(tmp)


def _summarize_ingest(
    system: str,
    backend: str,
    results: list[ClosedLoopResult],
    concurrency: int,
    cpu: CpuUse,
) -> IngestStats:
    start = max(r.measure_from for r in results)
    end = min(r.end for r in results)
    samples = [s for r in results for s in r.samples if start <= s[0] < end]
    ok = [s for s in samples if s[2] == 200]
    completed = sum(1 for s in ok if s[1] <= end)
    latencies = [(done - sent) * 1000 for sent, done, _status in ok]
    return IngestStats(
        system=system,
        backend=backend,
        requests_per_s=completed / (end - start),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        ok=len(ok),
        errors=len(samples) - len(ok),
        concurrency=concurrency,
        exhausted=any(r.exhausted for r in results),
        server_cores=cpu.server,
        client_cores=sum(r.cpu_seconds for r in results) / (results[0].end - results[0].start),
        machine_cores=cpu.machine,
    )


def ingest(system: str, backend: str, config: Config) -> IngestStats:
    """Durable ingest throughput and latency of one server on a fresh database."""
    prefix = f"in{time.time_ns()}"
    with _workdir() as work, fresh_database(backend, work, config.pg_admin_url) as url:
        if system == TOONBANK:
            env = toonbank_env(work, url)
            connection_id = setup_api_channel(env, f"http://{HOST}:9", SECRET, config.channel_rate)
            server = toonbank_server(env, work, url, workers=2, embedded_worker=False)
        else:
            connection_id = "baseline"
            server = baseline_server(work, url, workers=2)
        with server:
            target = Target(HOST, server.port, f"/webhooks/{connection_id}", SECRET)
            meter = CpuMeter(server)
            results = closed_loop(
                target,
                Messages(prefix, senders=1000, text="hello from the bench {i}"),
                processes=config.ingest_processes,
                connections=config.ingest_connections,
                warmup=config.ingest_warmup,
                duration=config.ingest_duration,
                max_rate=config.ingest_max_rate,
                on_start=meter.start,
            )
            cpu = meter.stop()
    concurrency = config.ingest_processes * config.ingest_connections
    return _summarize_ingest(system, backend, results, concurrency, cpu)


def _prewarm(
    server: Server, target: Target, messages: Messages, count: int, sim: ApiReceiver
) -> None:
    """Send every sender's first message (greeting + menu) and wait until all are answered.

    Done once every sender got a reply and no delivery arrived for a second (the menu that
    follows the greeting included), so the timed messages are each sender's second message,
    answered by exactly one echo, and no late pre-warm reply can be taken for an answer.
    """
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        for first in range(0, count, PREWARM_BATCH):
            batch = range(first, min(count, first + PREWARM_BATCH))
            payload = {
                "messages": [
                    {
                        "id": f"{messages.prefix}-w{i}",
                        "from": messages.sender(i),
                        "content": {"type": "text", "text": "hi"},
                    }
                    for i in batch
                ]
            }
            body, headers = signed_body(target.secret, payload)
            answer = client.post(target.path, content=body, headers=headers)
            answer.raise_for_status()
    deadline = time.monotonic() + PREWARM_TIMEOUT
    answered: set[str] = set()
    seen = 0
    quiet_since = time.monotonic()
    while len(answered) < count or time.monotonic() - quiet_since < 1.0:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"pre-warm: {len(answered)} of {count} senders answered after "
                f"{PREWARM_TIMEOUT:.0f} s:\n{server.log_tail()}"
            )
        deliveries = list(sim.deliveries)
        if len(deliveries) > seen:
            answered.update(d.to for d in deliveries[seen:])
            seen = len(deliveries)
            quiet_since = time.monotonic()
        time.sleep(0.1)


def _await_replies(
    sim: ApiReceiver, mark: int, senders: set[str], timeout: float
) -> dict[str, float]:
    """``to`` → time the receiver got the first reply to it, for deliveries after ``mark``."""
    deadline = time.monotonic() + timeout
    seen: dict[str, float] = {}
    while True:
        deliveries = list(sim.deliveries)
        for delivery in deliveries[mark:]:
            if delivery.to in senders and delivery.to not in seen:
                seen[delivery.to] = delivery.received_at
        mark = len(deliveries)
        if len(seen) >= len(senders) or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def _summarize_turn(
    system: str,
    backend: str,
    config: Config,
    messages: Messages,
    result: OpenLoopResult,
    replies: dict[str, float],
    measured: range,
    cpu: CpuUse,
) -> TurnStats:
    latencies = []
    acks = []
    for i in measured:
        answered_at = replies.get(messages.sender(i))
        latencies.append(
            math.inf if answered_at is None else (answered_at - result.scheduled(i)) * 1000
        )
        done = result.done[i]
        acks.append(math.inf if math.isnan(done) else (done - result.scheduled(i)) * 1000)
    return TurnStats(
        system=system,
        backend=backend,
        rate=config.turn_rate,
        sent=len(measured),
        acked=sum(1 for i in measured if result.status[i] == 200),
        answered=sum(1 for x in latencies if math.isfinite(x)),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=math.nan),
        ack_p99_ms=percentile(acks, 99),
        server_cores=cpu.server,
        client_cores=result.cpu_seconds / (len(result.done) / result.rate),
        machine_cores=cpu.machine,
    )


def turn(system: str, backend: str, config: Config) -> TurnStats:
    """End-to-end turn latency of one server at ``config.turn_rate`` messages/s."""
    prefix = f"turn{time.time_ns()}"
    messages = Messages(prefix, senders=None, text="bench turn {i}")
    count = math.ceil(config.turn_rate * (config.turn_warmup + config.turn_duration))
    measured = range(math.ceil(config.turn_rate * config.turn_warmup), count)
    sim = ApiReceiver(secret=SECRET)
    with (
        _workdir() as work,
        fresh_database(backend, work, config.pg_admin_url) as url,
        BackgroundServer(sim.app()) as receiver,
    ):
        if system == TOONBANK:
            env = toonbank_env(work, url)
            connection_id = setup_api_channel(env, receiver.url, SECRET, config.channel_rate)
            split = os.environ.get("TOONBANK_BENCH_SPLIT") == "1"
            if split:
                env = {**env, "TOONBANK_REDIS_URL": "redis://127.0.0.1:6379/15"}
            server = toonbank_server(
                env, work, url, workers=1, embedded_worker=not split, split_worker=split
            )
        else:
            connection_id = "baseline"
            server = baseline_server(work, url, workers=1, receiver_url=receiver.url, secret=SECRET)
        with server:
            target = Target(HOST, server.port, f"/webhooks/{connection_id}", SECRET)
            if system == TOONBANK:
                _prewarm(server, target, messages, count, sim)
            mark = len(sim.deliveries)
            if system == TOONBANK and os.environ.get("TOONBANK_BENCH_LOAD_MARK"):  # profiler cue
                Path(os.environ["TOONBANK_BENCH_LOAD_MARK"]).touch()
            meter = CpuMeter(server)
            result = open_loop(
                target, messages, count=count, rate=config.turn_rate, on_start=meter.start
            )
            cpu = meter.stop()
            senders = {messages.sender(i) for i in measured}
            replies = _await_replies(sim, mark, senders, config.turn_drain)
            cpu_seconds = meter.server_seconds()
        stats = _summarize_turn(system, backend, config, messages, result, replies, measured, cpu)
        stats.cpu_ms_per_message = cpu_seconds * 1000 / count
        if system == TOONBANK:
            stats.stages = stage_breakdown(url, messages, result, replies, measured)
    return stats
