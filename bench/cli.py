"""Command line of ``python -m bench``: run every measurement, print and record the results."""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

from rich.console import Console

from bench.report import Machine, Results, markdown, print_tables, write_section
from bench.scenarios import BASELINE, TOONBANK, Config, ingest, turn
from bench.servers import REPO, postgres_version

T = TypeVar("T")
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
DEFAULT_PG = os.environ.get("TOONBANK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Toonbank pipeline benchmarks, side by side with a bare baseline.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="Short phases (smoke test; numbers are rough)."
    )
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql", "all"],
        default="all",
        help="Databases to measure (all: SQLite, plus PostgreSQL when it answers).",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_PG,
        help="Admin URL used to create and drop a fresh database per run (env TOONBANK_BENCH_PG).",
    )
    parser.add_argument(
        "--only",
        choices=["ingest", "turn", "pipeline", "catalog"],
        default=None,
        help="Run one measurement only (pipeline: ingest and turn; catalog: import and search).",
    )
    parser.add_argument(
        "--products",
        type=int,
        default=None,
        help="Products in the catalog benchmark (default 100000, env TOONBANK_BENCH_PRODUCTS).",
    )
    parser.add_argument(
        "--turn-rate", type=float, default=200.0, help="Messages/s for the turn measurement."
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown file to update."
    )
    parser.add_argument("--no-write", action="store_true", help="Do not touch the Markdown file.")
    return parser


def _config(args: argparse.Namespace) -> Config:
    if args.quick:
        return Config(
            ingest_warmup=1.0,
            ingest_duration=3.0,
            turn_warmup=1.0,
            turn_duration=3.0,
            turn_rate=args.turn_rate,
            turn_drain=10.0,
            pg_admin_url=args.postgres_url,
        )
    return Config(turn_rate=args.turn_rate, pg_admin_url=args.postgres_url)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so every ``with`` block stops its servers."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 0 when every measurement ran (targets met or not)."""
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    # A pipe or CI log gets wide tables rather than Rich's 80-column fallback.
    console = Console() if sys.stdout.isatty() else Console(width=150)
    config = _config(args)
    began = time.monotonic()

    backends = ["sqlite"] if args.backend in ("sqlite", "all") else []
    pg_version = None
    notes = []
    if args.backend in ("postgresql", "all"):
        pg_version, why = postgres_version(config.pg_admin_url)
        if pg_version is not None:
            backends.append("postgresql")
        elif args.backend == "postgresql":
            console.print(f"[red]PostgreSQL is not reachable:[/red] {why}")
            return 2
        else:
            notes.append(f"PostgreSQL variants skipped: {why}")
    if args.quick:
        notes.append("`--quick` run: short phases, rough numbers.")

    results = Results(config=config, machine=Machine.detect(pg_version), notes=notes)

    def attempt(label: str, run: Callable[[], T]) -> T | None:
        console.log(f"[bold]{label}[/bold] …")
        try:
            return run()
        except Exception as exc:
            console.print(traceback.format_exc(), markup=False, highlight=False)
            results.failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:300]}")
            return None

    for backend in backends:
        if args.only in (None, "ingest", "pipeline"):
            for system in (BASELINE, TOONBANK):
                stats = attempt(
                    f"ingest · {system} · {backend}",
                    functools.partial(ingest, system, backend, config),
                )
                if stats is not None:
                    results.ingest.append(stats)
        if args.only in (None, "turn", "pipeline"):
            for system in (BASELINE, TOONBANK):
                turned = attempt(
                    f"turn · {system} · {backend}",
                    functools.partial(turn, system, backend, config),
                )
                if turned is not None:
                    results.turn.append(turned)

    failed = False
    if args.only in (None, "catalog"):
        from bench import catalog

        products = args.products or (5000 if args.quick else catalog.default_products())
        measured = catalog.run_catalog(
            backends, products, config.pg_admin_url, console, results.machine
        )
        catalog.print_tables(measured, console)
        failed = bool(measured.failures)
        if not args.no_write:
            catalog.write(measured, args.output)
            console.print(f"wrote the catalog section of {args.output}")
        if args.only == "catalog":
            return 1 if failed else 0

    results.elapsed_s = time.monotonic() - began
    print_tables(results, console)
    if not args.no_write:
        write_section(args.output, markdown(results))
        console.print(f"wrote {args.output}")
    return 1 if results.failures or failed else 0
