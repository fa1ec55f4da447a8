"""Assistant speed benchmark: understanding latency and bot turns/s next to the placeholder.

``python -m bench.assistant`` (``--no-write`` to only print) measures, in one process:

1. **Understanding latency**: ``UnderstandingEngine.understand`` one message at a time (as the
   dialogue calls it) over a realistic mix: every text of ``bench/data/nlu_eval.csv`` once,
   tapped-button payloads (``intent:<label>``) and repeats of a few frequent phrasings (the
   LRU cache). p50/p99 per path (fast path: payload, keyword, phrase, cache; encoder: model)
   and overall, messages/s.
2. **Bot turns end to end** through the real pipeline (ingest → normalize → process → outbox)
   on a freshly migrated, demo-seeded SQLite database: N simulated customers on the terminal
   channel, each sending its script one message at a time (the next message once the reply is
   queued), answered by the ``assistant`` responder and then, with the same messages, by the
   ``placeholder`` responder (the demo workspace's ``settings.responder`` is switched between
   the runs). turns/s and p50/p99 message-in → reply-queued latency for each, and the ratio.

Results go to the ``bench:assistant`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.report import Machine, write_section
from bench.stats import percentile
from toonbank.assistant.convtests.runner import Runner
from toonbank.assistant.convtests.session import demo_runner
from toonbank.assistant.engine import UnderstandingEngine, shared_engine
from toonbank.channels.base import InboundMessage
from toonbank.channels.content import Text
from toonbank.conversations.events import workspace_topic
from toonbank.conversations.service import change_status
from toonbank.conversations.states import BOT, QUEUED
from toonbank.kit.clock import now
from toonbank.models import ContactIdentity, Conversation, Workspace, new_id
from toonbank.pipeline.ingest import store_events
from toonbank.pipeline.worker import Worker

DATA = Path(__file__).parent / "data"
HEADING = "## Assistant speed: understanding latency and bot turns/s (issue #5)"
START = "<!-- bench:assistant:start -->"
END = "<!-- bench:assistant:end -->"
RESPONDERS = ("assistant", "placeholder")
FAST_SOURCES = ("payload", "keyword", "phrase", "cache", "empty")
# Intents a customer of the turn run talks about: the ones the bot answers itself, so the run
# measures bot turns (a handover, should one happen anyway, is handed back untimed).
TURN_INTENTS = frozenset(
    {
        "greeting", "goodbye", "product_search", "product_question", "add_to_cart", "checkout",
        "order_status", "delivery_info", "store_info", "refund_status", "return_request",
    }
)  # fmt: skip
REPLY_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    intent: str
    language: str


def eval_rows() -> list[Row]:
    with (DATA / "nlu_eval.csv").open(newline="", encoding="utf-8") as handle:
        return [
            Row(r["text"], r["intent"], r.get("language") or "") for r in csv.DictReader(handle)
        ]


# -- 1. understanding latency ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    text: str
    payload: str | None = None


def nlu_mix(
    rows: Sequence[Row], seed: int = 5, payloads: int = 200, repeats: int = 600
) -> list[Probe]:
    """Every eval text once, ``payloads`` tapped buttons and ``repeats`` messages drawn from a
    few frequent phrasings, shuffled (so a repeat may come before or after its first use)."""
    rng = random.Random(seed)
    probes = [Probe(r.text) for r in rows]
    intents = sorted({r.intent for r in rows})
    probes += [
        Probe(intent.replace("_", " "), f"intent:{intent}")
        for intent in (rng.choice(intents) for _ in range(payloads))
    ]
    frequent = rng.sample(list(rows), min(40, len(rows)))
    weights = [1 / (rank + 1) for rank in range(len(frequent))]  # a few phrasings dominate
    probes += [Probe(r.text) for r in rng.choices(frequent, weights, k=repeats)]
    rng.shuffle(probes)
    return probes


def _summary(samples: Sequence[float]) -> dict[str, Any]:
    values = list(samples)
    return {
        "n": len(values),
        "p50_ms": percentile(values, 50) * 1000 if values else None,
        "p99_ms": percentile(values, 99) * 1000 if values else None,
    }


def measure_nlu(
    probes: Sequence[Probe], engine: UnderstandingEngine | None = None
) -> dict[str, Any]:
    """Understand each probe alone (like a dialogue turn) and time it per path.

    The default engine is a fresh one over the built-in intents (empty cache) sharing the
    process-wide encoder, so the turn run below starts with its own cold cache.
    """
    engine = engine or UnderstandingEngine(encoder=shared_engine().encoder)
    engine.model()  # fit before timing (training embeddings come from the cache file)
    for text in ("warm up the encoder", "opwarmen", "aufwärmen"):
        engine.understand(text)
    engine._cache.clear()  # the timed run starts cold
    by_source: dict[str, list[float]] = defaultdict(list)
    began = time.perf_counter()
    for probe in probes:
        started = time.perf_counter()
        result = engine.understand(probe.text, None, probe.payload)
        by_source[result.source].append(time.perf_counter() - started)
    seconds = time.perf_counter() - began
    every = [s for values in by_source.values() for s in values]
    fast = [s for source in FAST_SOURCES for s in by_source.get(source, [])]
    return {
        "encoder": engine.encoder.name,
        "seconds": seconds,
        "messages_per_second": len(every) / seconds if seconds else None,
        "overall": _summary(every),
        "fast": _summary(fast),
        "model": _summary(by_source.get("model", [])),
        "sources": {source: _summary(values) for source, values in sorted(by_source.items())},
    }


# -- 2. bot turns end to end ------------------------------------------------------------------


def turn_scripts(rows: Sequence[Row], contacts: int, turns: int, seed: int = 7) -> list[list[str]]:
    """One script per customer: messages in one language, now and then a typed "1" (the first
    option offered, as on a plain-text channel)."""
    rng = random.Random(seed)
    by_language: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.intent in TURN_INTENTS and row.language:
            by_language[row.language].append(row.text)
    languages = sorted(by_language)
    scripts = []
    for i in range(contacts):
        pool = by_language[languages[i % len(languages)]]
        script = [
            "1" if k % 4 == 2 else rng.choice(pool)  # "1" after a search-like message
            for k in range(turns)
        ]
        scripts.append(script)
    return scripts


@dataclass
class TurnRun:
    responder: str
    contacts: int
    turns: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    handovers: int = 0
    unanswered: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "responder": self.responder,
            "contacts": self.contacts,
            "turns": self.turns,
            "seconds": self.seconds,
            "turns_per_second": self.turns / self.seconds if self.seconds else None,
            "handovers": self.handovers,
            "unanswered": self.unanswered,
            **_summary(self.latencies),
        }


class _Watcher:
    """Follows the workspace's event stream: the first reply of a turn resolves the waiting
    customer's future; a handover is noted so the customer can hand the conversation back."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.handed_over: set[str] = set()

    def expect(self, conversation_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[conversation_id] = future
        return future

    async def follow(self, subscription: Any) -> None:
        async for event in subscription:
            if event.get("type") == "conversation_status" and event.get("to") == QUEUED:
                self.handed_over.add(str(event.get("conversation_id")))
                continue
            message = event.get("message") if event.get("type") == "message" else None
            if not message or message.get("direction") != "out":
                continue
            future = self.waiting.pop(str(message.get("conversation_id")), None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())


async def _set_responder(runner: Runner, responder: str) -> None:
    async with runner.ctx.db.uow() as uow:
        workspace = await uow.session.get(Workspace, runner.workspace_id)
        assert workspace is not None
        workspace.settings = {**(workspace.settings or {}), "responder": responder}


async def _send(runner: Runner, user: str, text: str) -> None:
    connection = await runner.connection("terminal")
    message = InboundMessage(
        provider_message_id=new_id(), sender_id=user, content=Text(text=text), timestamp=now()
    )
    await store_events(runner.ctx, connection, [message])


async def _conversations(runner: Runner, users: Sequence[str]) -> dict[str, str]:
    """The bot conversation of each customer (after its first message was processed)."""
    async with runner.ctx.db.session() as session:
        rows = await session.execute(
            select(ContactIdentity.external_id, Conversation.id)
            .join(Conversation, Conversation.contact_id == ContactIdentity.contact_id)
            .where(
                ContactIdentity.workspace_id == runner.workspace_id,
                ContactIdentity.channel_type == "terminal",
                ContactIdentity.external_id.in_(list(users)),
                Conversation.workspace_id == runner.workspace_id,
                Conversation.status == BOT,
            )
        )
        return {user: conversation_id for user, conversation_id in rows.all()}


async def _hand_back(runner: Runner, conversation_id: str) -> None:
    """What an agent does: give the conversation back to the bot (untimed)."""
    async with runner.ctx.db.uow() as uow:
        row = await uow.session.get(Conversation, conversation_id)
        assert row is not None
        if row.status != BOT:
            await change_status(
                uow, runner.ctx.bus, row, BOT, reason="benchmark hands back", actor="agent"
            )


async def run_turns(runner: Runner, responder: str, scripts: Sequence[Sequence[str]]) -> TurnRun:
    """All customers talk at once, each one message at a time; returns turns/s and latencies.

    Each customer first says hello (warm-up, not timed: creates the contact and conversation
    and takes the greeting); then the timed messages of its script follow.
    """
    await _set_responder(runner, responder)
    tag = new_id()[:8]
    users = [f"bench-{responder}-{tag}-{i}" for i in range(len(scripts))]
    for user in users:
        await _send(runner, user, "hi")
    await runner.worker.drain(timeout=300)
    conversations = await _conversations(runner, users)
    missing = [u for u in users if u not in conversations]
    if missing:
        raise RuntimeError(f"{len(missing)} warm-up conversations were not answered by the bot")
    result = TurnRun(responder, len(scripts))
    watcher = _Watcher()
    subscription = await runner.ctx.bus.subscribe(workspace_topic(runner.workspace_id))
    follower = asyncio.create_task(watcher.follow(subscription))
    worker = Worker(runner.ctx)
    await worker.start()

    async def customer(user: str, script: Sequence[str]) -> None:
        conversation_id = conversations[user]
        for text in script:
            if conversation_id in watcher.handed_over:
                watcher.handed_over.discard(conversation_id)
                result.handovers += 1
                await _hand_back(runner, conversation_id)
            reply = watcher.expect(conversation_id)
            started = time.perf_counter()
            await _send(runner, user, text)
            try:
                answered = await asyncio.wait_for(reply, REPLY_TIMEOUT)
            except TimeoutError:
                result.unanswered += 1
                continue
            result.latencies.append(answered - started)
            result.turns += 1

    try:
        began = time.perf_counter()
        await asyncio.gather(*(customer(u, s) for u, s in zip(users, scripts, strict=True)))
        result.seconds = time.perf_counter() - began
    finally:
        await worker.stop()
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await subscription.close()
    return result


async def measure_turns(runner: Runner, scripts: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The same scripts answered by each responder, on the same database, one after the other."""
    shared_engine().model()  # the assistant's first turn would otherwise load the model
    runs = {name: (await run_turns(runner, name, scripts)).to_json() for name in RESPONDERS}
    await _set_responder(runner, "assistant")
    a, p = runs["assistant"]["turns_per_second"], runs["placeholder"]["turns_per_second"]
    return {"runs": runs, "ratio": a / p if a and p else None}


# -- both, and the report ---------------------------------------------------------------------


def sample_rows(texts: int, seed: int = 3) -> list[Row]:
    """A fixed random sample of ``texts`` eval rows (all of them when ``texts`` is larger)."""
    rows = eval_rows()
    return rows if texts >= len(rows) else random.Random(seed).sample(rows, texts)


async def run_all(
    contacts: int = 12,
    turns: int = 6,
    rows: Sequence[Row] | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    rows = list(rows) if rows is not None else sample_rows(150)
    probes = nlu_mix(rows, payloads=len(rows) // 3, repeats=len(rows))
    results: dict[str, Any] = {"nlu": await asyncio.to_thread(measure_nlu, probes)}
    results["nlu"]["eval_texts"] = len(rows)
    scripts = turn_scripts(rows, contacts, turns)
    async with demo_runner(database_url) as runner:
        results["turns"] = await measure_turns(runner, scripts)
    results["turns"]["contacts"], results["turns"]["messages"] = contacts, turns
    return results


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if value < 10 else f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def markdown(results: dict[str, Any], machine: Machine, seconds: float) -> str:
    nlu, turns = results["nlu"], results["turns"]
    a, p = turns["runs"]["assistant"], turns["runs"]["placeholder"]
    lines = [
        "_Generated by `.venv/bin/python -m bench.assistant` (also part of `make bench`); rerun "
        "it to refresh. Everything between the `bench:assistant` markers is rewritten on each "
        "run._",
        "",
        f"- **Command:** `.venv/bin/python -m bench.assistant` ({seconds:,.0f} s for this run)",
        f"- **Date:** {machine.date}",
        f"- **Machine:** {machine.cores} cores (`nproc`), {machine.cpu_model}; other jobs may "
        "share the machine, so wall-clock numbers are noisy (rerun before drawing conclusions)",
        f"- **Software:** Python {machine.python}, SQLite {machine.sqlite}; encoder "
        f"`{nlu['encoder']}`",
        "",
        "### Understanding latency (one message at a time, one process)",
        "",
        f"`UnderstandingEngine.understand` called per message, as a dialogue turn does, over "
        f"{nlu['overall']['n']} messages: {nlu['eval_texts']} texts of "
        "`bench/data/nlu_eval.csv` (a fixed random sample, `--texts`) once, tapped-button "
        "payloads (`intent:<label>`) and repeats of up to 40 frequent phrasings (Zipf-like), "
        "shuffled; the engine starts with an empty cache. "
        "Fast path: payload, keyword rules, exact training phrase, LRU cache; encoder: the "
        "multilingual model plus the intent model. Language identification and entities run "
        "on every path.",
        "",
        "| path | messages | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for label, key in (("fast path", "fast"), ("encoder", "model"), ("overall", "overall")):
        s = nlu[key]
        lines.append(f"| {label} | {s['n']} | {_ms(s['p50_ms'])} | {_ms(s['p99_ms'])} |")
    detail = ", ".join(
        f"{source} {s['n']} (p50 {_ms(s['p50_ms'])} ms)" for source, s in nlu["sources"].items()
    )
    lines += [
        "",
        f"Throughput: {nlu['messages_per_second']:,.0f} messages/s overall on one thread "
        f"(by path: {detail}).",
        "",
        "### Bot turns end to end: assistant vs placeholder",
        "",
        f"{turns['contacts']} simulated customers on the terminal channel, each with a script "
        f"of {turns['messages']} messages in one of 9 languages (texts of the intents the bot "
        "answers itself, from the eval set, and a typed `1` choosing the first offered "
        "option every fourth message), all talking at once, each sending its next message as "
        "soon as the reply to the previous one is queued. One process: ingest "
        "(`store_events`, as `toonbank chat` does) and the worker's normalize → process → "
        "dispatch loops on a freshly migrated, demo-seeded SQLite database. The same scripts "
        "are answered by the `assistant` responder and then by the `placeholder` responder "
        "(the demo workspace's `settings.responder` switched between runs). Each customer's "
        'first "hi" is a warm-up (greeting; not timed).',
        "",
        "| responder | turns | turns/s | p50 ms | p99 ms | handed back | unanswered |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (a, p):
        lines.append(
            f"| {r['responder']} | {r['turns']} | {r['turns_per_second']:,.1f} | "
            f"{_ms(r['p50_ms'])} | {_ms(r['p99_ms'])} | {r['handovers']} | {r['unanswered']} |"
        )
    ratio = turns["ratio"]
    lines += [
        "",
        f"Assistant / placeholder turns/s: {'n/a' if ratio is None else f'{ratio:.2f}'}. "
        "Latency: message stored in the ledger → its first reply committed to the outbox "
        '(seen on the workspace\'s event stream). "Handed back": turns after which the '
        "assistant handed over to a person and the benchmark gave the conversation back to "
        "the bot (untimed) before the next message.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    parser.add_argument("--texts", type=int, default=150, help="Eval texts in the NLU mix.")
    parser.add_argument("--contacts", type=int, default=12, help="Simulated customers.")
    parser.add_argument("--turns", type=int, default=6, help="Timed messages per customer.")
    args = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(run_all(args.contacts, args.turns, sample_rows(args.texts)))
    body = markdown(results, Machine.detect(None), time.perf_counter() - started)
    print(body)
    if not args.no_write:
        path = Path(__file__).parent.parent / "docs" / "benchmarks.md"
        write_section(path, body, heading=HEADING, start=START, end=END)


if __name__ == "__main__":
    main()
