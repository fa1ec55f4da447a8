"""Catalog benchmark: feed import throughput and search latency over a generated catalog.

``python -m bench --only catalog`` generates a deterministic fashion catalog (100,000 products
by default, written as a Google Merchant Center TSV), imports it into a fresh database per
backend through the same code path as ``toonbank catalog import``, re-imports it unchanged and
with changes, then times searches over it. Results go to the ``bench:catalog`` section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import asyncio
import os
import resource
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.report import Machine, write_section
from bench.servers import fresh_database
from bench.stats import percentile

HEADING = "## Catalog import and search (issue #4)"
START = "<!-- bench:catalog:start -->"
END = "<!-- bench:catalog:end -->"
IMPORT_TARGET = 2000.0
"""Products per second a full import must reach."""
MAX_COLOURS = 2
MAX_SIZES = 3


@dataclass
class ImportRun:
    name: str
    seconds: float
    products: int
    variants: int
    created: int
    updated: int
    unchanged: int
    unpublished: int

    @property
    def products_per_s(self) -> float:
        return self.products / self.seconds if self.seconds else 0.0

    @property
    def rows_per_s(self) -> float:
        return self.variants / self.seconds if self.seconds else 0.0


@dataclass
class QueryKind:
    name: str
    example: str
    latencies_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)


@dataclass
class BackendResult:
    backend: str
    imports: list[ImportRun] = field(default_factory=list)
    index_build_s: float = 0.0
    index_products: int = 0
    queries: list[QueryKind] = field(default_factory=list)
    rss_mb: float = 0.0

    def all_latencies(self) -> list[float]:
        return sorted(ms for kind in self.queries for ms in kind.latencies_ms)

    def all_cpu(self) -> list[float]:
        return sorted(ms for kind in self.queries for ms in kind.cpu_ms)


@dataclass
class CatalogResults:
    products: int
    variants: int
    feed_mb: float
    machine: Machine
    backends: list[BackendResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """``os.getloadavg()`` when the run ended: on 2 cores, anything above 2 means waiting."""


def _queries() -> list[tuple[str, dict[str, object]]]:
    """(kind, SearchQuery arguments): the mix timed against the catalog."""
    words = [
        "dress",
        "sneakers",
        "jacket",
        "cardigan",
        "jeans",
        "boots",
        "scarf",
        "blouse",
        "trousers",
        "coat",
        "belt",
        "beanie",
        "shirt",
        "shorts",
        "sweater",
        "skirt",
    ]
    typos = ["jakcet", "sneekers", "cardigna", "trosers", "sweeter", "blose", "bots", "scraf"]
    phrases = [
        "linen dress",
        "merino wool sweater",
        "leather boots",
        "organic cotton t-shirt",
        "relaxed denim jeans",
        "quilted jacket",
        "cashmere scarf",
        "suede loafers",
    ]
    mix: list[tuple[str, dict[str, object]]] = []
    mix += [("one word", {"text": w}) for w in words]
    mix += [("typo", {"text": w}) for w in typos]
    mix += [("several words", {"text": p}) for p in phrases]
    mix += [
        ("word + filters", {"text": w, "colours": (c,), "sizes": ("M",), "in_stock": True})
        for w, c in zip(
            words[:8],
            ["black", "navy", "red", "camel", "blue", "olive", "grey", "white"],
            strict=True,
        )
    ]
    mix += [
        ("price range", {"text": w, "price_min": Decimal("40"), "price_max": Decimal("90")})
        for w in words[8:]
    ]
    mix += [
        ("browse + filters", {"colours": (c,), "in_stock": True})
        for c in ["black", "white", "red", "green"]
    ]
    mix += [("browse everything", {})]
    return mix  # fmt: skip


def run_catalog(
    backends: list[str], products: int, pg_admin_url: str, console: Console, machine: Machine
) -> CatalogResults:
    from toonbank.commerce import sample

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="toonbank-bench-catalog-") as tmp:
        directory = Path(tmp)
        console.log(f"generating {products:,} products …")
        items = list(sample.products(products, max_colours=MAX_COLOURS, max_sizes=MAX_SIZES))
        feed = directory / "catalog.tsv"
        with feed.open("w") as handle:
            variants = sample.write_gmc(items, handle)
        changed = directory / "changed.tsv"
        _write_changed(items, changed)
        results = CatalogResults(
            products=products,
            variants=variants,
            feed_mb=feed.stat().st_size / 1e6,
            machine=machine,
        )
        del items
        for backend in backends:
            console.log(f"[bold]catalog · {backend}[/bold] …")
            try:
                with fresh_database(backend, directory / backend, pg_admin_url) as url:
                    (directory / backend).mkdir(exist_ok=True)
                    results.backends.append(
                        asyncio.run(_measure(backend, url, feed, changed, console))
                    )
            except Exception as exc:  # a failed backend is reported, the others still run
                console.print_exception()
                results.failures.append(f"catalog · {backend}: {type(exc).__name__}: {exc}")
    results.elapsed_s = time.monotonic() - began
    results.load = os.getloadavg()
    return results


def _write_changed(items: list[object], path: Path) -> None:
    """The same catalog with 10% of products repriced and 1% dropped."""
    from toonbank.commerce import sample

    kept = [p for n, p in enumerate(items) if n % 100 != 7]
    repriced = []
    for n, product in enumerate(kept):
        assert isinstance(product, sample.SampleProduct)
        if n % 10 == 3:
            variants = [
                sample.SampleVariant(v.id, v.colour, v.size, v.price + 5, v.sale_price)
                for v in product.variants
            ]
            product = sample.SampleProduct(
                product.group, product.title, product.description, product.garment,
                product.brand, product.material, variants,
            )  # fmt: skip
        repriced.append(product)
    with path.open("w") as handle:
        sample.write_gmc(repriced, handle)


async def _measure(
    backend: str, url: str, feed: Path, changed: Path, console: Console
) -> BackendResult:
    from toonbank.commerce.imports import ImportOptions, import_feed
    from toonbank.commerce.search import LexicalSearchEngine, SearchQuery, SemanticSearchEngine
    from toonbank.db import create_database
    from toonbank.db.migrate import upgrade_async
    from toonbank.workspaces.service import create_workspace

    await upgrade_async(url)
    result = BackendResult(backend=backend)
    db = create_database(url)
    try:
        from toonbank.channels.registry import default_registry
        from toonbank.kit.crypto import SecretBox

        async with db.uow() as uow:
            workspace, _key = await create_workspace(
                uow.session, SecretBox("bench-secret-key-0123456789"), default_registry(), "bench"
            )
        runs = [
            ("full import (new catalog)", feed, ImportOptions(format="gmc")),
            ("re-import, unchanged", feed, ImportOptions(format="gmc")),
            ("re-import, 10% repriced, 1% removed", changed, ImportOptions(format="gmc")),
        ]
        for name, path, options in runs:
            with path.open("rb") as handle:
                began = time.perf_counter()
                report = await import_feed(db, workspace.id, handle, options)
                seconds = time.perf_counter() - began
            run = ImportRun(
                name=name,
                seconds=seconds,
                products=report.products_in_feed,
                variants=report.rows,
                created=report.products_created,
                updated=report.products_updated,
                unchanged=report.products_unchanged,
                unpublished=report.products_unpublished,
            )
            console.log(f"  {name}: {seconds:.1f} s, {run.products_per_s:,.0f} products/s")
            result.imports.append(run)
        engine = SemanticSearchEngine(LexicalSearchEngine(db))
        began = time.perf_counter()
        index = await engine.lexical.index(workspace.id)
        result.index_build_s = time.perf_counter() - began
        result.index_products = index.alive
        console.log(f"  index built in {result.index_build_s:.1f} s ({index.alive:,} products)")
        kinds: dict[str, QueryKind] = {}
        mix = _queries()
        for _round in range(3):
            for kind, arguments in mix:
                query = SearchQuery(**arguments)  # type: ignore[arg-type]
                began, cpu = time.perf_counter(), time.thread_time()
                found = await engine.search(workspace.id, query)
                elapsed = (time.perf_counter() - began) * 1000
                entry = kinds.setdefault(kind, QueryKind(kind, _describe(arguments)))
                entry.latencies_ms.append(elapsed)
                entry.cpu_ms.append((time.thread_time() - cpu) * 1000)
                entry.hits.append(found.total)
        result.queries = list(kinds.values())
        result.rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        await db.dispose()
    return result


def _describe(arguments: dict[str, object]) -> str:
    parts = [f'"{arguments["text"]}"'] if arguments.get("text") else ["(no text)"]
    for key in ("colours", "sizes"):
        if arguments.get(key):
            parts.append(f"{key[:-1]}={','.join(arguments[key])}")  # type: ignore[arg-type]
    if arguments.get("in_stock"):
        parts.append("in stock")
    if arguments.get("price_min") is not None:
        parts.append(f"price {arguments['price_min']}-{arguments['price_max']}")
    return " ".join(parts)


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _import_rows(results: CatalogResults) -> list[list[str]]:
    rows = []
    for backend in results.backends:
        for run in backend.imports:
            rows.append(
                [
                    backend.backend,
                    run.name,
                    f"{run.seconds:,.1f}",
                    f"{run.products_per_s:,.0f}",
                    f"{run.rows_per_s:,.0f}",
                    f"{run.created:,} / {run.updated:,} / {run.unchanged:,} / {run.unpublished:,}",
                ]
            )
    return rows


IMPORT_HEADERS = [
    "Backend",
    "Run",
    "seconds",
    "products/s",
    "rows/s",
    "created / updated / unchanged / unpublished",
]


def _search_rows(results: CatalogResults) -> list[list[str]]:
    rows = []
    for backend in results.backends:
        for kind in backend.queries:
            lat = sorted(kind.latencies_ms)
            rows.append(
                [
                    backend.backend,
                    kind.name,
                    kind.example,
                    str(len(lat)),
                    f"{min(kind.hits):,}-{max(kind.hits):,}",
                    _ms(percentile(lat, 50)),
                    _ms(percentile(lat, 95)),
                    _ms(percentile(lat, 99)),
                    _ms(lat[-1]),
                    _ms(percentile(sorted(kind.cpu_ms), 50)),
                    _ms(percentile(sorted(kind.cpu_ms), 95)),
                ]
            )
        everything = backend.all_latencies()
        cpu = backend.all_cpu()
        rows.append(
            [
                backend.backend,
                "**all**",
                "",
                str(len(everything)),
                "",
                f"**{_ms(percentile(everything, 50))}**",
                f"**{_ms(percentile(everything, 95))}**",
                f"**{_ms(percentile(everything, 99))}**",
                _ms(everything[-1]),
                f"**{_ms(percentile(cpu, 50))}**",
                f"**{_ms(percentile(cpu, 95))}**",
            ]
        )
    return rows


SEARCH_HEADERS = [
    "Backend", "Kind", "Example", "queries", "hits", "p50 ms", "p95 ms", "p99 ms", "max ms",
    "CPU p50 ms", "CPU p95 ms",
]  # fmt: skip
SEARCH_TARGET_MS = 20.0


def targets(results: CatalogResults) -> list[tuple[str, bool | None, str]]:
    rows: list[tuple[str, bool | None, str]] = []
    for backend in results.backends:
        everything, cpu = backend.all_latencies(), backend.all_cpu()
        if everything:
            wall, spent = percentile(everything, 95), percentile(cpu, 95)
            rows.append(
                (
                    f"Search p95 ({backend.backend}) < {SEARCH_TARGET_MS:.0f} ms, "
                    f"{results.products:,} products",
                    wall < SEARCH_TARGET_MS,
                    f"{_ms(wall)} ms wall, {_ms(spent)} ms CPU",
                )
            )
        first = backend.imports[0] if backend.imports else None
        rows.append(
            (
                f"Import ({backend.backend}): ≥ {IMPORT_TARGET:,.0f} products/s",
                None if first is None else first.products_per_s >= IMPORT_TARGET,
                "not measured" if first is None else f"{first.products_per_s:,.0f} products/s",
            )
        )
    return rows


def print_tables(results: CatalogResults, console: Console) -> None:
    for title, headers, rows in (
        ("Catalog import", IMPORT_HEADERS, _import_rows(results)),
        ("Catalog search", SEARCH_HEADERS, _search_rows(results)),
    ):
        table = Table(title=title, title_justify="left")
        for header in headers:
            table.add_column(header)
        for row in rows:
            table.add_row(*(cell.replace("**", "") for cell in row))
        console.print(table)
    for what, met, measured in targets(results):
        colour = {True: "green", False: "red", None: "yellow"}[met]
        verdict = {True: "met", False: "MISSED", None: "not measured"}[met]
        console.print(f"[{colour}]{verdict:>12}[/{colour}]  {what}: {measured}")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *map(line, rows)])


def markdown(results: CatalogResults) -> str:
    machine = results.machine
    verdict = {True: "met", False: "MISSED", None: "not measured"}
    parts = [
        "_Generated by `.venv/bin/python -m bench --only catalog`; rerun it to refresh. "
        "Everything between the `bench:catalog` markers is rewritten on each run._",
        "",
        f"- **Catalog:** {results.products:,} products, {results.variants:,} variants "
        f"(feed rows), a {results.feed_mb:,.0f} MB Google Merchant Center TSV generated by "
        "`toonbank.commerce.sample` (deterministic; up to "
        f"{MAX_COLOURS} colours x {MAX_SIZES} sizes per product)",
        f"- **Date:** {machine.date} ({results.elapsed_s:,.0f} s for this run)",
        f"- **Machine:** {machine.cores} cores (`nproc`), {machine.cpu_model}, {machine.kernel}",
        f"- **Software:** Python {machine.python}, SQLite {machine.sqlite}"
        + (f", PostgreSQL {machine.postgres}" if machine.postgres else ""),
        "- **Peak memory** of the benchmark process (backends one after the other): "
        f"{max((b.rss_mb for b in results.backends), default=0):,.0f} MB (the parsed feed "
        "and the existing keys during an import; the search index afterwards)",
        "- **Noise:** one run on a shared 2-core VM where other test suites may run at the "
        "same time (load average at the end of this run: "
        + " / ".join(f"{value:.1f}" for value in results.load)
        + " over 1 / 5 / 15 min); wall-clock numbers grow with the load, CPU time per query "
        "much less. Rerun before drawing conclusions.",
        "",
        "### Targets",
        "",
        _table(
            ["Target", "Measured", "Verdict"],
            [[what, measured, verdict[met]] for what, met, measured in targets(results)],
        ),
        "",
        "### Import",
        "",
        _table(IMPORT_HEADERS, _import_rows(results)),
        "",
        "Each run is `import_feed` (what `toonbank catalog import` and `POST "
        "/api/v1/catalog/imports` call): parse the file, compare content hashes with what is "
        "stored, write new and changed rows with set-based statements, unpublish what is "
        "missing, all in one transaction. Seconds include parsing. Rows are feed rows "
        "(variants).",
        "",
        "### Search",
        "",
        "Index build: "
        + ", ".join(
            f"{b.backend} {b.index_build_s:,.1f} s for {b.index_products:,} products"
            for b in results.backends
        )
        + " (once per process and workspace, in a worker thread; later changes are applied "
        "incrementally by catalog revision).",
        "",
        _table(SEARCH_HEADERS, _search_rows(results)),
        "",
        "Latency is one `SemanticSearchEngine.search` call in-process, as the app makes it "
        "(revision check against the database, matching, filters, facets, top 20 hits; no query "
        "of the mix needs the embedding model), each query of the mix run three times; HTTP "
        "adds its own overhead on top. **CPU** is the thread CPU time of the same call: on a "
        "machine shared with other work, wall-clock time includes waiting for a core, CPU time "
        "does not.",
    ]
    if results.failures:
        parts += ["", "### Failures", ""] + [f"- {f}" for f in results.failures]
    return "\n".join(parts).rstrip() + "\n"


def write(results: CatalogResults, path: Path) -> None:
    write_section(path, markdown(results), heading=HEADING, start=START, end=END)


def default_products() -> int:
    return int(os.environ.get("TOONBANK_BENCH_PRODUCTS", "100000"))
