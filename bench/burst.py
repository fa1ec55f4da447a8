"""Outbound burst: does dispatch hold a connection's rate without 429s, and use all of it?

A provider that allows ``RATE`` requests per second (any trailing second; more get 429 with
``Retry-After: 1``, as WhatsApp's 80 msg/s per number does) receives the replies to a burst
of inbound messages: every sender's first message is answered with two replies (greeting and
menu), so ``SENDERS`` messages put ``2 x SENDERS`` replies in the outbox at once. The channel
connection is configured with the provider's rate. Three shapes:

* one ``toonbank serve`` process (embedded worker; pacing in memory);
* ``serve --no-worker`` + two ``toonbank worker`` processes sharing the rate through Redis;
* the same two workers without Redis (control: each process paces alone, so together they
  exceed the rate and the provider pushes back).

Usage: ``python -m bench.burst [--rate 80] [--senders 400] [--no-write]``; results go to
``docs/benchmarks.md`` between the ``bench:burst`` markers.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.loadgen import signed_body
from bench.report import write_section
from bench.scenarios import SECRET, _workdir
from bench.servers import (
    REPO,
    fresh_database,
    postgres_version,
    toonbank_cli,
    toonbank_env,
    toonbank_server,
)
from toonbank.simulator.api_channel import ApiReceiver, BackgroundServer

START, END = "<!-- bench:burst:start -->", "<!-- bench:burst:end -->"
HEADING = "## Outbound bursts and rate limits"
REDIS_URL = "redis://127.0.0.1:6379/12"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class StrictProvider:
    """ASGI wrapper: more than ``rate`` sends in any trailing second get 429 + Retry-After."""

    def __init__(self, app: ASGIApp, rate: int) -> None:
        self.app, self.rate = app, rate
        self.attempts: list[float] = []  # every POST /messages, accepted or not
        self.rejected = 0
        self._window: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/messages":
            moment = time.monotonic()
            with self._lock:
                self.attempts.append(moment)
                while self._window and moment - self._window[0] >= 1.0:
                    self._window.popleft()
                over = len(self._window) >= self.rate
                if over:
                    self.rejected += 1
                else:
                    self._window.append(moment)
            if over:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 429,
                        "headers": [(b"retry-after", b"1"), (b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error":"rate_limited"}'})
                return
        await self.app(scope, receive, send)


@dataclass
class BurstResult:
    shape: str
    backend: str
    replies: int
    delivered: int
    rejected: int
    seconds: float
    achieved: float
    peak_window: int
    queued_in: float

    def row(self, rate: int) -> str:
        return (
            f"| {self.shape} | {self.backend} | {self.delivered}/{self.replies} | "
            f"{self.rejected} | {self.peak_window} | {self.achieved:.1f} | "
            f"{100 * self.achieved / rate:.0f}% | {self.seconds:.1f} | {self.queued_in:.1f} |"
        )


def _peak(times: list[float]) -> int:
    """Most sends (accepted or not) that arrived within any one second."""
    times = sorted(times)
    best, left = 0, 0
    for right, moment in enumerate(times):
        while moment - times[left] >= 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


@contextlib.contextmanager
def _workers(env: dict[str, str], count: int, log_dir: Path) -> Iterator[None]:
    procs = []
    try:
        for i in range(count):
            log = (log_dir / f"worker-{i}.log").open("w")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "toonbank", "worker"],
                    env=env,
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def burst(shape: str, backend: str, rate: int, senders: int, timeout: float) -> BurstResult:
    sim = ApiReceiver(secret=SECRET)
    provider = StrictProvider(sim.app(), rate)
    replies = 2 * senders
    with (
        _workdir() as work,
        fresh_database(backend, work, PG_ADMIN) as url,
        BackgroundServer(provider) as receiver,
    ):
        env = toonbank_env(work, url)
        env["TOONBANK_WORKER_POLL_INTERVAL"] = "0.2"
        if shape == "2 workers + Redis":
            env["TOONBANK_REDIS_URL"] = REDIS_URL
        toonbank_cli(env, "workspaces", "create", "burst")
        connection_id = toonbank_cli(
            env, "channels", "add", "api", "--workspace", "burst", "--name", "burst",
            "--api-base", receiver.url, "--set", f"webhook_secret={SECRET}", "--rate", str(rate),
        )["id"]  # fmt: skip
        embedded = shape == "1 process"
        server = toonbank_server(env, work, url, workers=1, embedded_worker=embedded)
        with server, _workers(env, 0 if embedded else 2, work):
            time.sleep(1.0 if embedded else 3.0)  # workers up and migrated
            with httpx.Client(base_url=server.url, timeout=30.0) as client:
                _first_messages(client, connection_id, senders)
                _wait_for(sim, replies, timeout)  # warm-up: conversations exist, not timed
                mark, rejected_before = len(sim.deliveries), provider.rejected
                del provider.attempts[:]
                queue_began = time.monotonic()
                _queue_replies(url, env.get("TOONBANK_REDIS_URL"), senders)
                queued_in = time.monotonic() - queue_began
            _wait_for(sim, mark + replies, timeout)
    accepted = sorted(d.received_at for d in sim.deliveries[mark:])
    span = accepted[-1] - accepted[0] if len(accepted) > 1 else 0.0
    return BurstResult(
        shape=shape,
        backend=backend,
        replies=replies,
        delivered=len(accepted),
        rejected=provider.rejected - rejected_before,
        seconds=span,
        achieved=(len(accepted) - 1) / span if span else 0.0,
        peak_window=_peak(provider.attempts),
        queued_in=queued_in,
    )


def _first_messages(client: httpx.Client, connection_id: str, senders: int) -> None:
    for first in range(0, senders, 100):
        payload = {
            "messages": [
                {
                    "id": f"burst-{i}",
                    "from": f"+3161{i:07d}",
                    "content": {"type": "text", "text": "hi"},
                }
                for i in range(first, min(senders, first + 100))
            ]
        }
        body, headers = signed_body(SECRET, payload)
        path = f"/webhooks/{connection_id}"
        client.post(path, content=body, headers=headers).raise_for_status()


def _wait_for(sim: ApiReceiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(sim.deliveries) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def _queue_replies(database_url: str, redis_url: str | None, senders: int) -> None:
    """Two agent replies per conversation, written to the outbox in one transaction (the
    shape of an agent broadcast or a batch of order updates): the burst is all there at once."""
    import asyncio

    from sqlalchemy import select

    from toonbank.channels.content import Text
    from toonbank.config import Settings
    from toonbank.context import create_context
    from toonbank.conversations.service import Outbound, queue_outbound_many
    from toonbank.models import ContactIdentity, Conversation

    async def run() -> None:
        ctx = create_context(Settings(database_url=database_url, redis_url=redis_url))
        await ctx.start()
        try:
            async with ctx.db.uow() as uow:
                rows = (
                    await uow.session.execute(
                        select(Conversation, ContactIdentity).join(
                            ContactIdentity, ContactIdentity.contact_id == Conversation.contact_id
                        )
                    )
                ).all()
                assert len(rows) == senders, f"{len(rows)} conversations, expected {senders}"
                items = [
                    Outbound(
                        workspace_id=conversation.workspace_id,
                        conversation_id=conversation.id,
                        contact_id=conversation.contact_id,
                        connection_id=str(identity.connection_id),
                        channel_type="api",
                        content=Text(text=f"Update {n}"),
                        sender="agent",
                        recipient=identity.external_id,
                    )
                    for conversation, identity in rows
                    for n in (1, 2)
                ]
                await queue_outbound_many(uow, ctx.bus, items)
                uow.on_commit(lambda: ctx.wake("dispatch"))
        finally:
            await ctx.close()

    asyncio.run(run())


def markdown(results: list[BurstResult], rate: int, senders: int, command: str) -> str:
    lines = [
        f"_Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        "everything between the `bench:burst` markers is rewritten on each run._",
        "",
        f"Provider limit and connection rate: **{rate} msg/s**; burst: {senders} first "
        f"messages → {2 * senders} replies queued at once.",
        "",
        "| Shape | Backend | delivered | 429s | peak sends in 1 s | achieved msg/s "
        "| of the rate | seconds | queued in s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *(r.row(rate) for r in results),
        "",
        "Achieved: accepted sends / time from first to last; peak: the most send attempts the "
        "provider saw in any one second (it rejects above the limit). The control row shows "
        "why the rate is shared through Redis when several worker processes send.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__)
    parser.add_argument("--rate", type=int, default=80)
    parser.add_argument("--senders", type=int, default=400)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    pg, _why = postgres_version(PG_ADMIN)
    multi_backend = "postgresql" if pg else "sqlite"
    plan = [
        ("1 process", "sqlite"),
        ("2 workers + Redis", multi_backend),
        ("2 workers, no Redis (control)", multi_backend),
    ]
    results: list[Any] = []
    for shape, backend in plan:
        print(f"burst · {shape} · {backend} …", flush=True)
        results.append(burst(shape, backend, args.rate, args.senders, args.timeout))
        print(results[-1].row(args.rate), flush=True)
    command = "make bench" if not argv else "python -m bench.burst " + " ".join(argv)
    body = markdown(results, args.rate, args.senders, command)
    print(body)
    if not args.no_write:
        write_section(args.output, body, heading=HEADING, start=START, end=END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
