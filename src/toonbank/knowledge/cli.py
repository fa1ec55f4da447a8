"""``toonbank knowledge …``: import articles from files, search them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from toonbank.config import Settings

knowledge_app = typer.Typer(
    help="The knowledge base: FAQ and policy articles the assistant answers from.",
    no_args_is_help=True,
)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="TOONBANK_DATABASE_URL", help="SQLAlchemy URL."),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", envvar="TOONBANK_CONFIG", help="TOML file with a [toonbank] table."),
]
Workspace = Annotated[str, typer.Option("--workspace", "-w", help="Workspace name.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@knowledge_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, help="A directory, .md, .yaml or .csv.")],
    workspace: Workspace,
    language: Annotated[
        str | None,
        typer.Option("--language", "-l", help="Language of files that do not say theirs."),
    ] = None,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Create or update articles from Markdown files with front matter, YAML or CSV.

    Articles are matched on (slug, language): re-importing updates changed ones only.
    """
    from toonbank.cli import _execute, _fail
    from toonbank.knowledge.articles import ArticleError
    from toonbank.knowledge.sources import read_path

    try:
        articles = read_path(path, language)
    except ArticleError as exc:
        raise _fail(str(exc), 2) from None
    if not articles:
        raise _fail(f"no articles found in {path}", 2)

    async def job(settings: Settings) -> Any:
        from toonbank.cli import _context, _workspace_id
        from toonbank.knowledge.importing import import_articles

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            return await import_articles(ctx.db, workspace_id, articles)

    result = _execute(database_url, config, job)
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    out.print(
        f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged "
        f"({result.chunks} passages encoded)"
    )


@knowledge_app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="The question.")],
    workspace: Workspace,
    language: Annotated[
        str | None, typer.Option("--language", "-l", help="The asker's language (preferred).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=20)] = 3,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """The articles that best answer a question, with the source to cite."""
    from toonbank.cli import _execute

    async def job(settings: Settings) -> Any:
        from toonbank.cli import _context, _workspace_id
        from toonbank.knowledge.retrieval import search_knowledge

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.session() as session:
                return await search_knowledge(session, workspace_id, query, language, limit)

    hits = _execute(database_url, config, job)
    if as_json:
        typer.echo(json.dumps([h.to_json() for h in hits], ensure_ascii=False))
        return
    if not hits:
        out.print("no article answers this")
        return
    table = Table("score", "title", "language", "source", "snippet")
    for hit in hits:
        table.add_row(f"{hit.score:.3f}", hit.title, hit.language, hit.source, hit.snippet)
    out.print(table)
