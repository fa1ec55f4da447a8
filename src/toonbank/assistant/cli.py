"""``toonbank assistant …``: understand messages, import business intents, evaluate.

Output is JSON (one object per line with ``--jsonl``) because scripts rely on it; ``eval``
prints tables unless ``--json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from toonbank.assistant.engine import UnderstandingEngine
    from toonbank.config import Settings

assistant_app = typer.Typer(help="The shop assistant: understand messages, intents, evaluation.")
intents_app = typer.Typer(help="Business intents learned from examples.", no_args_is_help=True)
assistant_app.add_typer(intents_app, name="intents")
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)

BATCH = 64

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="TOONBANK_DATABASE_URL", help="SQLAlchemy URL."),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", envvar="TOONBANK_CONFIG", help="TOML file with a [toonbank] table."),
]
CsvFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


def _workspace_engine(
    workspace: str | None, database_url: str | None, config: Path | None
) -> UnderstandingEngine:
    from toonbank.assistant.engine import shared_engine

    if workspace is None:
        return shared_engine()
    from toonbank.cli import _execute

    async def job(settings: Settings) -> Any:
        from toonbank.assistant.service import engine_for_workspace
        from toonbank.cli import _context, _workspace_id

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.session() as session:
                return await engine_for_workspace(session, workspace_id)

    engine: UnderstandingEngine = _execute(database_url, config, job)
    return engine


@assistant_app.command("understand")
def understand_command(
    text: Annotated[str | None, typer.Argument(help="The message (omit with --jsonl).")] = None,
    jsonl: Annotated[
        bool, typer.Option("--jsonl", help="Read one text per stdin line; one JSON per line.")
    ] = False,
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Include this workspace's intents.")
    ] = None,
    previous_language: Annotated[
        str | None,
        typer.Option("--previous-language", help="The conversation's language so far."),
    ] = None,
    payload: Annotated[
        str | None, typer.Option("--payload", help="Structured reply payload (intent:<label>).")
    ] = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Print language, intent, confidence and entities of a message as JSON."""
    from toonbank.cli import _fail

    if jsonl == (text is not None):
        raise _fail("give a text, or --jsonl and texts on stdin", 2)
    engine = _workspace_engine(workspace, database_url, config)
    if text is not None:
        result = engine.understand(text, previous_language, payload)
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    batch: list[str] = []

    def flush() -> None:
        for result in engine.understand_many(batch, [previous_language] * len(batch)):
            typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
        batch.clear()

    for line in sys.stdin:
        batch.append(line.rstrip("\r\n"))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()


@intents_app.command("import")
def import_command(
    file: CsvFile,
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Add business intents from a CSV (columns text,intent[,language]) to a workspace."""
    from toonbank.assistant.examples import ExampleError, read_examples_file
    from toonbank.cli import _execute, _fail

    try:
        examples = read_examples_file(file)
    except (ExampleError, UnicodeDecodeError) as exc:
        raise _fail(str(exc), 2) from None

    async def job(settings: Settings) -> Any:
        from toonbank.assistant.service import import_examples
        from toonbank.cli import _context, _workspace_id

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.session() as session, session.begin():
                return await import_examples(session, workspace_id, examples)

    result = _execute(database_url, config, job)
    if as_json:
        typer.echo(json.dumps(result.to_json()))
        return
    out.print(f"{result.added} examples added, {result.unchanged} already there")
    table = Table("intent", "examples", title=f"Business intents of {workspace}")
    for intent, n in result.intents.items():
        table.add_row(intent, str(n))
    out.print(table)


@intents_app.command("list")
def list_command(
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Workspace (default: built-in).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """The built-in taxonomy, or a workspace's business intents with their example counts."""
    from toonbank.assistant.taxonomy import BUILTIN_INTENTS

    if workspace is None:
        if as_json:
            typer.echo(json.dumps(BUILTIN_INTENTS))
            return
        table = Table("intent", "meaning", title="Built-in intents")
        for name, meaning in BUILTIN_INTENTS.items():
            table.add_row(name, meaning)
        out.print(table)
        return
    from toonbank.cli import _execute

    async def job(settings: Settings) -> Any:
        from toonbank.assistant.service import intent_counts
        from toonbank.cli import _context, _workspace_id

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.session() as session:
                return await intent_counts(session, workspace_id)

    counts = _execute(database_url, config, job)
    if as_json:
        typer.echo(json.dumps(counts))
        return
    table = Table("intent", "examples", title=f"Business intents of {workspace}")
    for intent, n in counts.items():
        table.add_row(intent, str(n))
    out.print(table)


@assistant_app.command("eval")
def eval_command(
    test: CsvFile,
    train: Annotated[
        Path | None,
        typer.Option(
            "--train",
            exists=True,
            dir_okay=False,
            help="Build the intent model from this CSV alone (replaces the built-in intents).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    no_fast_path: Annotated[
        bool, typer.Option("--no-fast-path", help="Send every message to the encoder.")
    ] = False,
) -> None:
    """Accuracy, macro-F1, out-of-scope precision/recall and a confusion table on TEST.csv."""
    from toonbank.assistant.engine import UnderstandingEngine
    from toonbank.assistant.evaluation import evaluate
    from toonbank.assistant.examples import ExampleError, read_examples_file
    from toonbank.cli import _fail

    try:
        test_rows = read_examples_file(test)
        train_rows = read_examples_file(train) if train else None
    except (ExampleError, UnicodeDecodeError) as exc:
        raise _fail(str(exc), 2) from None
    engine = UnderstandingEngine(train_rows, fast_path=not no_fast_path)
    try:
        report = evaluate(engine, test_rows)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report))
        return
    _print_eval(report)


def _print_eval(report: dict[str, Any]) -> None:
    lines = [
        f"n={report['n']}  accuracy={report['accuracy']:.3f}  macro-F1={report['macro_f1']:.3f}",
        f"out of scope: precision={report['oos_precision']:.3f}  recall="
        + (f"{report['oos_recall']:.3f}" if report["oos_recall"] is not None else "n/a")
        + f"  (support {report['oos_support']})",
    ]
    if "language_accuracy" in report:
        lines.append(f"language identification: {report['language_accuracy']:.3f}")
    lines.append(f"{report['messages_per_second']} messages/s; paths: {report['sources']}")
    for line in lines:
        out.print(line)
    labels = sorted(
        {p for row in report["confusion"].values() for p in row} | set(report["confusion"])
    )
    table = Table(title="Confusion (rows: true, columns: predicted)", title_justify="left")
    table.add_column("")
    short = {label: label[:8] for label in labels}
    for label in labels:
        table.add_column(short[label], justify="right")
    for gold, row in report["confusion"].items():
        table.add_row(gold, *(str(row.get(p, "")) for p in labels))
    out.print(table)
