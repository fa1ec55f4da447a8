"""Present results: Rich tables on the terminal, a Markdown section in ``docs/benchmarks.md``.

The benchmark owns only the text between ``<!-- bench:pipeline:start -->`` and
``<!-- bench:pipeline:end -->`` under the ``## Pipeline (issue #2)`` heading; every other
section of the file (search, NLU, …) is preserved as it is.
"""

from __future__ import annotations

import math
import os
import platform
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.scenarios import BASELINE, TOONBANK, Config, IngestStats, TurnStats

HEADING = "## Pipeline (issue #2)"
START = "<!-- bench:pipeline:start -->"
END = "<!-- bench:pipeline:end -->"
INGEST_TARGET = 0.5
"""Toonbank's ingest throughput must be at least this share of the baseline's."""
TURN_P99_TARGET_MS = 50.0
"""Toonbank's end-to-end turn p99 must stay below this at the fixed load."""


@dataclass
class Machine:
    """What the numbers were measured on."""

    cores: int
    cpu_model: str
    python: str
    kernel: str
    sqlite: str
    postgres: str | None
    date: str

    @classmethod
    def detect(cls, postgres: str | None) -> Machine:
        model = "unknown"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return cls(
            cores=len(os.sched_getaffinity(0)),
            cpu_model=model,
            python=platform.python_version(),
            kernel=f"{platform.system()} {platform.release()}",
            sqlite=sqlite3.sqlite_version,
            postgres=postgres,
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )


@dataclass
class Results:
    """Everything one run produced."""

    config: Config
    machine: Machine
    ingest: list[IngestStats] = field(default_factory=list)
    turn: list[TurnStats] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def backends(self) -> list[str]:
        seen = [r.backend for r in self.ingest] + [r.backend for r in self.turn]
        return list(dict.fromkeys(seen))

    def ingest_of(self, system: str, backend: str) -> IngestStats | None:
        return next((r for r in self.ingest if (r.system, r.backend) == (system, backend)), None)

    def turn_of(self, system: str, backend: str) -> TurnStats | None:
        return next((r for r in self.turn if (r.system, r.backend) == (system, backend)), None)

    def ingest_ratio(self, backend: str) -> float | None:
        ours, base = self.ingest_of(TOONBANK, backend), self.ingest_of(BASELINE, backend)
        if ours is None or base is None or not base.requests_per_s:
            return None
        return ours.requests_per_s / base.requests_per_s

    def targets(self) -> list[tuple[str, bool | None, str]]:
        """(what, met?, measured) per backend; ``None`` when it could not be measured."""
        rows: list[tuple[str, bool | None, str]] = []
        for backend in self.backends():
            ratio = self.ingest_ratio(backend)
            rows.append(
                (
                    f"Ingest ({backend}): Toonbank ≥ {INGEST_TARGET:.0%} of baseline req/s",
                    None if ratio is None else ratio >= INGEST_TARGET,
                    "not measured" if ratio is None else f"{ratio:.1%}",
                )
            )
            turn = self.turn_of(TOONBANK, backend)
            rows.append(
                (
                    f"Turn ({backend}): Toonbank p99 < {TURN_P99_TARGET_MS:.0f} ms "
                    f"at {self.config.turn_rate:.0f} msg/s",
                    None if turn is None else turn.p99_ms < TURN_P99_TARGET_MS,
                    "not measured"
                    if turn is None
                    else f"p99 {_ms(turn.p99_ms)}" + (" ms" if math.isfinite(turn.p99_ms) else ""),
                )
            )
        return rows


def _ms(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞ (unanswered)"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "not measured"}[met]


def _ingest_rows(results: Results) -> list[list[str]]:
    rows = []
    for backend in results.backends():
        ratio = results.ingest_ratio(backend)
        for system in (BASELINE, TOONBANK):
            r = results.ingest_of(system, backend)
            if r is None:
                continue
            rows.append(
                [
                    backend,
                    system,
                    f"{r.requests_per_s:,.0f}" + (" (ran out of bodies)" if r.exhausted else ""),
                    _ms(r.p50_ms),
                    _ms(r.p99_ms),
                    str(r.errors),
                    f"{r.server_cores:.2f} / {r.machine_cores:.2f}",
                    f"{ratio:.1%}" if system == TOONBANK and ratio is not None else "",
                ]
            )
    return rows


INGEST_HEADERS = [
    "Backend",
    "Server",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "CPU server / machine",
    "vs baseline",
]


def _turn_rows(results: Results) -> list[list[str]]:
    rows = []
    for backend in results.backends():
        for system in (BASELINE, TOONBANK):
            r = results.turn_of(system, backend)
            if r is None:
                continue
            rows.append(
                [
                    backend,
                    system,
                    f"{r.answered}/{r.sent}",
                    str(r.sent - r.acked),
                    _ms(r.p50_ms),
                    _ms(r.p95_ms),
                    _ms(r.p99_ms),
                    _ms(r.max_ms),
                    _ms(r.ack_p99_ms),
                    f"{r.server_cores:.2f} / {r.machine_cores:.2f}",
                    _ms(r.cpu_ms_per_message),
                ]
            )
    return rows


TURN_HEADERS = [
    "Backend",
    "Server",
    "answered",
    "errors",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "ack p99 ms",
    "CPU server / machine",
    "server CPU ms/msg",
]
CAPTION = (
    f"CPU: cores busy during the load, in the server's processes (a PostgreSQL server's own "
    f"processes not included) / on the whole machine ({len(os.sched_getaffinity(0))} cores: "
    "load generator, provider simulator, database, and anything else that ran)."
)


def _stage_rows(results: Results) -> list[list[str]]:
    rows = []
    for backend in results.backends():
        r = results.turn_of(TOONBANK, backend)
        if r is None:
            continue
        for stage in r.stages:
            rows.append(
                [backend, stage.name, _ms(stage.p50_ms), _ms(stage.p99_ms), stage.description]
            )
    return rows


STAGE_HEADERS = ["Backend", "Stage", "p50 ms", "p99 ms", "What happens"]


def _titles(config: Config) -> tuple[str, str, str]:
    concurrency = config.ingest_processes * config.ingest_connections
    return (
        f"(a) Durable ingest: closed loop, {concurrency} keep-alive connections, "
        f"{config.ingest_duration:g} s after {config.ingest_warmup:g} s warm-up",
        f"(b) End-to-end turn: open loop at {config.turn_rate:g} msg/s for "
        f"{config.turn_duration:g} s after {config.turn_warmup:g} s warm-up",
        "(b) Where a Toonbank turn spends its time (from the pipeline's own timestamps)",
    )


def print_tables(results: Results, console: Console) -> None:
    """The results as Rich tables, then the targets."""
    ingest_title, turn_title, stage_title = _titles(results.config)
    stages = [row[:-1] for row in _stage_rows(results)]  # descriptions go to the Markdown only
    for title, headers, rows, caption in (
        (ingest_title, INGEST_HEADERS, _ingest_rows(results), CAPTION),
        (turn_title, TURN_HEADERS, _turn_rows(results), CAPTION),
        (stage_title, STAGE_HEADERS[:-1], stages, None),
    ):
        if not rows:
            continue
        table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
        for header in headers:
            table.add_column(header, justify="left" if header in STAGE_HEADERS[:2] else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for what, met, measured in results.targets():
        colour = {True: "green", False: "red", None: "yellow"}[met]
        console.print(f"[{colour}]{_verdict(met):>12}[/{colour}]  {what}: {measured}")
    for failure in results.failures:
        console.print(f"[red]failed:[/red] {failure}")


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *map(line, rows)])


def markdown(results: Results) -> str:
    """The generated body of the pipeline section (without heading and markers)."""
    config, machine = results.config, results.machine
    ingest_title, turn_title, stage_title = _titles(config)
    concurrency = config.ingest_processes * config.ingest_connections
    parts = [
        "_Generated by `make bench` (`.venv/bin/python -m bench`); rerun it to refresh. "
        "Everything between the `bench:pipeline` markers is rewritten on each run._",
        "",
        f"- **Command:** `make bench` ({results.elapsed_s:.0f} s for this run)",
        f"- **Date:** {machine.date}",
        f"- **Machine:** {machine.cores} cores (`nproc`), {machine.cpu_model}, {machine.kernel}",
        f"- **Software:** Python {machine.python}, SQLite {machine.sqlite}"
        + (f", PostgreSQL {machine.postgres}" if machine.postgres else ""),
        "",
        "### Targets",
        "",
        _markdown_table(
            ["Target", "Measured", "Verdict"],
            [[what, measured, _verdict(met)] for what, met, measured in results.targets()],
        ),
        "",
        f"### {ingest_title}",
        "",
        _markdown_table(INGEST_HEADERS, _ingest_rows(results)),
        "",
        CAPTION,
        "",
        f"### {turn_title}",
        "",
        _markdown_table(TURN_HEADERS, _turn_rows(results)),
        "",
        "Latency: scheduled send → reply received by the provider simulator; errors: webhooks "
        "not answered with 200. " + CAPTION + " Server CPU ms/msg: CPU seconds of the server's "
        "processes from the first timed send until the last reply arrived, per message sent "
        "(the cost of a turn, much less sensitive to other load than the latencies).",
        "",
    ]
    stages = _stage_rows(results)
    if stages:
        parts += [f"### {stage_title}", "", _markdown_table(STAGE_HEADERS, stages), ""]
    if results.failures or results.notes:
        parts += ["### Notes", ""]
        parts += [f"- Failed: {f}" for f in results.failures]
        parts += [f"- {n}" for n in results.notes]
        parts.append("")
    parts += [
        "### Method",
        "",
        "Every server runs as a subprocess on a free loopback port with a fresh database "
        "(SQLite file in a temporary directory, or a new PostgreSQL database that is dropped "
        "afterwards); the load generator runs in separate processes (`multiprocessing`, "
        "uvloop, raw keep-alive HTTP/1.1 over asyncio streams) and every request body and "
        "signature is computed before the timed phase. The same machine runs servers and "
        "load, so both compete for its cores; the CPU columns show each server's share.",
        "",
        f"- **(a) Ingest.** Toonbank: `toonbank serve --workers 2 --no-worker` (uvicorn, 2 "
        "processes) with a custom API channel made by `toonbank workspaces create` and "
        "`toonbank channels add api`; each request is one unique message signed with "
        "`X-Toonbank-Signature`, verified, parsed and stored once in the ledger. Baseline: "
        "`bench/baseline.py`, the same stack (FastAPI + uvicorn with 2 workers, async "
        "SQLAlchemy on aiosqlite/asyncpg, the same SQLite pragmas: WAL, "
        "`synchronous=NORMAL`, `busy_timeout`, `BEGIN IMMEDIATE`) whose endpoint only "
        f"inserts one row and answers 200. Closed loop: {config.ingest_processes} processes "
        f"x {config.ingest_connections} connections = {concurrency} requests in flight; "
        "req/s counts 200 answers completed inside the measured window, latency is "
        "send → full answer.",
        f"- **(b) Turn.** Toonbank: `toonbank serve` (one process, embedded worker) with the "
        f"API channel pointed at `ApiReceiver` (the provider simulator; channel "
        f"`--rate {config.channel_rate}` so the default 100/s send limit does not cap a "
        f"{config.turn_rate:g} msg/s load). Every message comes from its own sender, "
        "pre-warmed beforehand with a first message (greeting + menu, not measured), so "
        "each timed message gets exactly one echo reply. Open loop: message *i* is due at "
        f"*start + i / {config.turn_rate:g}* and its latency is measured from that scheduled "
        "time (no coordinated omission) to the moment `ApiReceiver` received the reply "
        f"addressed to its sender. Replies still missing {config.turn_drain:g} s after the "
        "last send count as infinitely late. Baseline: `bench/baseline.py` with 1 worker, "
        "whose endpoint inserts a row and then immediately POSTs the signed reply to the "
        "receiver with httpx, the bare minimum of message in → reply out.",
        "- **Stages.** Read back from Toonbank's tables after run (b): "
        "`inbound_events.received_at/processed_at`, the reply's `messages.created_at` and "
        "its `delivery_attempts.started_at`, plus the receiver's clock. Each timestamp is "
        "taken inside its stage's transaction, so a stage includes the previous commit.",
        "- **Noise.** Each row is one run on a shared 2-core VM; repeated runs of the same "
        "code have differed by up to about a third (PostgreSQL ingest the most). If the "
        "machine column is far above what the benchmark itself explains, something else "
        "was running: rerun before drawing conclusions.",
    ]
    return "\n".join(parts).rstrip() + "\n"


def write_section(
    path: Path, body: str, *, heading: str = HEADING, start: str = START, end: str = END
) -> None:
    """Replace one section's generated body (the pipeline's by default), keeping the rest."""
    block = f"{start}\n{body}{end}"
    text = path.read_text() if path.exists() else ""
    if start in text and end in text and text.index(start) < text.index(end):
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + block + after
    elif heading in text:
        head, tail = text.split(heading, 1)
        text = f"{head}{heading}\n\n{block}\n{tail}"
    else:
        if not text:
            text = (
                "# Benchmarks\n\n"
                "Measured on one machine with `make bench`; each section is owned by the "
                "benchmark that writes it.\n"
            )
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{block}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
