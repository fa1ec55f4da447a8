"""``toonbank catalog …`` and ``toonbank stores …``: import feeds, search, list stores."""

from __future__ import annotations

import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:
    from toonbank.config import Settings

catalog_app = typer.Typer(help="Product catalog: import feeds, search.", no_args_is_help=True)
stores_app = typer.Typer(help="Stores and their opening hours.", no_args_is_help=True)
# A pipe gets wide tables rather than Rich's 80-column fallback.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


class RichImportProgress:
    """The import's progress bar: megabytes parsed, then rows written."""

    def __init__(self, progress: Progress, size: int) -> None:
        self._progress = progress
        self._size = size
        self._read: TaskID = progress.add_task("reading", total=size or None, detail="")
        self._write: TaskID | None = None
        self._written = 0
        self._total = 0

    def read(self, done: int) -> None:
        detail = f"{done / 1e6:,.1f}/{self._size / 1e6:,.1f} MB"
        self._progress.update(self._read, completed=done, detail=detail)

    def stage(self, name: str, total: int) -> None:
        self.read(self._size)
        self._total = total
        self._write = self._progress.add_task(
            name, total=max(total, 1), completed=0 if total else 1, detail=f"0/{total:,} rows"
        )

    def advance(self, n: int) -> None:
        if self._write is not None:
            self._written += n
            detail = f"{self._written:,}/{self._total:,} rows"
            self._progress.update(self._write, advance=n, detail=detail)


def _execute(database_url: str | None, config: Path | None, job: Any) -> Any:
    from toonbank.cli import _execute as run

    return run(database_url, config, job)


DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="TOONBANK_DATABASE_URL", help="SQLAlchemy URL."),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", envvar="TOONBANK_CONFIG", help="TOML file with a [toonbank] table."),
]
WorkspaceName = Annotated[str, typer.Option("--workspace", "-w", help="Workspace name.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@catalog_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    workspace: WorkspaceName,
    format_: Annotated[
        str | None,
        typer.Option("--format", help="gmc, meta, shopify or gmc_local (default: detected)."),
    ] = None,
    currency: Annotated[
        str, typer.Option(help="Currency of prices without one (Shopify exports).")
    ] = "EUR",
    language: Annotated[
        str | None, typer.Option(help="Language of the feed's texts (e.g. nl).")
    ] = None,
    translation: Annotated[
        bool,
        typer.Option("--translation", help="Only store titles/descriptions under --language."),
    ] = False,
    partial: Annotated[
        bool, typer.Option("--partial", help="Add and update only; unpublish nothing.")
    ] = False,
    location: Annotated[
        str, typer.Option(help="Location code for quantities in the feed.")
    ] = "online",
    force: Annotated[
        bool, typer.Option("--force", help="Allow unpublishing most of the catalog.")
    ] = False,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Import a product feed: changed items are updated, items missing from it unpublished."""
    from toonbank.cli import _fail

    if format_ is not None:
        from toonbank.commerce.importers import FORMATS

        if format_ not in FORMATS:
            raise _fail(f"--format must be one of {', '.join(FORMATS)}", 2)
    if translation and not language:
        raise _fail("--translation needs --language", 2)

    async def job(settings: Settings) -> Any:
        from toonbank.cli import _context, _workspace_id
        from toonbank.commerce.imports import ImportOptions, import_feed

        options = ImportOptions(
            format=format_,
            currency=currency.upper(),
            language=language,
            mode="translation" if translation else "partial" if partial else "full",
            location=location,
            unpublish_limit=None if force else 0.5,
            filename=file.name,
        )
        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            with (
                file.open("rb") as handle,
                Progress(
                    TextColumn("{task.description:>8}"),
                    BarColumn(),
                    TextColumn("{task.fields[detail]}"),
                    TimeRemainingColumn(),
                    console=err,
                    transient=True,
                    disable=as_json or not err.is_terminal,
                ) as bar,
            ):
                return await import_feed(
                    ctx.db,
                    workspace_id,
                    handle,
                    options,
                    RichImportProgress(bar, file.stat().st_size),
                )

    from toonbank.commerce.importers import FeedError
    from toonbank.commerce.imports import ImportRefused

    try:
        report = _execute(database_url, config, job)
    except (FeedError, ImportRefused) as exc:  # pragma: no cover - _execute maps ValueError
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report.to_json()))
        return
    _print_report(report)


def _print_report(report: Any) -> None:
    data = report.to_json()
    table = Table(title=f"Imported {data['format']} feed ({data['mode']})", title_justify="left")
    for column in ("", "created", "updated", "unchanged", "unpublished"):
        table.add_column(column, justify="right")
    p, v = data["products"], data["variants"]
    table.add_row(
        "products", *(str(p[k]) for k in ("created", "updated", "unchanged", "unpublished"))
    )
    table.add_row("variants", str(v["created"]), str(v["updated"]), "", str(v["unpublished"]))
    out.print(table)
    out.print(
        f"{data['rows']} rows read, {data['rejected_rows']} rejected, "
        f"{data['stock_levels_written']} stock levels written in {data['seconds']:.1f} s"
    )
    if report.rejected:
        errors = Table(title="Rejected rows (skipped; the rest was imported)", title_justify="left")
        for column in ("row", "id", "field", "problem"):
            errors.add_column(column)
        for error in report.rejected[:50]:
            errors.add_row(str(error.row), error.item_id or "", error.field or "", error.message)
        out.print(errors)
        if len(report.rejected) > 50:
            out.print(f"… and {len(report.rejected) - 50} more (use --json for all)")


@catalog_app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for (may be empty).")],
    workspace: WorkspaceName,
    colour: Annotated[list[str] | None, typer.Option("--colour", "--color")] = None,
    size: Annotated[list[str] | None, typer.Option("--size")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    brand: Annotated[str | None, typer.Option("--brand")] = None,
    min_price: Annotated[str | None, typer.Option("--min-price")] = None,
    max_price: Annotated[str | None, typer.Option("--max-price")] = None,
    in_stock: Annotated[bool, typer.Option("--in-stock")] = False,
    language: Annotated[str | None, typer.Option("--language")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 10,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Search the published catalog (typo tolerant; filters on colour, size, price, stock)."""
    from toonbank.cli import _fail

    try:
        low = Decimal(min_price) if min_price else None
        high = Decimal(max_price) if max_price else None
    except InvalidOperation:
        raise _fail("--min-price/--max-price must be numbers like 19.95", 2) from None

    async def job(settings: Settings) -> Any:
        from toonbank.cli import _context, _workspace_id
        from toonbank.commerce.search import SearchQuery, SemanticSearchEngine

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            if isinstance(ctx.search, SemanticSearchEngine):
                ctx.search.wait_for_model = True  # one query: worth waiting for the model
            return await ctx.search.search(
                workspace_id,
                SearchQuery(
                    text=query,
                    colours=tuple(colour or ()),
                    sizes=tuple(size or ()),
                    category=category,
                    brand=brand,
                    price_min=low,
                    price_max=high,
                    in_stock=in_stock,
                    language=language,
                    limit=limit,
                ),
            )

    result = _execute(database_url, config, job)
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    note = ""
    if result.corrections:
        note = " (did you mean: " + ", ".join(result.corrections.values()) + ")"
    table = Table(
        title=f"{result.total} products for {query!r}{note}",
        title_justify="left",
        caption=f"{result.took_ms:.1f} ms" + (", not every word matched" if result.relaxed else ""),
        caption_justify="left",
    )
    for column in ("product", "brand", "from", "colours", "sizes", "stock"):
        table.add_column(column)
    for hit in result.hits:
        colours = sorted({v.colour for v in hit.variants if v.colour})
        sizes = list(dict.fromkeys(v.size for v in hit.variants if v.size))
        table.add_row(
            hit.title,
            hit.brand or "",
            str(hit.price_from),
            ", ".join(colours),
            ", ".join(sizes),
            "in stock" if hit.in_stock else "out of stock",
        )
    out.print(table)


@stores_app.command("list")
def stores_list(
    workspace: WorkspaceName,
    open_now: Annotated[bool, typer.Option("--open-now")] = False,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """List stores with today's hours and whether they are open now."""

    async def job(settings: Settings) -> Any:
        from toonbank.cli import _context, _workspace_id
        from toonbank.commerce.stores import find_stores

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.session() as session:
                return await find_stores(session, workspace_id, open_now=open_now, limit=200)

    found = _execute(database_url, config, job)
    if as_json:
        for store in found:
            typer.echo(json.dumps(store))
        return
    table = Table(title=f"{len(found)} stores", title_justify="left")
    for column in ("code", "name", "city", "today", "now"):
        table.add_column(column)
    for store in found:
        status = store["status"]
        today = ", ".join(f"{a}-{b}" for a, b in status["today"]) or "closed"
        if status["note"]:
            today += f" ({status['note']})"
        now = (
            f"open until {status['closes_at'][11:16]}"
            if status["open"]
            else f"closed, opens {status['next_opening'][:16].replace('T', ' ')}"
            if status["next_opening"]
            else "closed"
        )
        table.add_row(store["code"], store["name"], store["city"] or "", today, now)
    out.print(table)
