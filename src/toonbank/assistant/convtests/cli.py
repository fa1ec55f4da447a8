"""``toonbank test PATH``: run conversation tests and print a report (exit 1 on failure)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from yaml import YAMLError


def conversation_tests(
    path: Annotated[Path, typer.Argument(help="A YAML file or a directory of them.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    database_url: Annotated[
        str | None,
        typer.Option(help="Run against this database (default: a fresh seeded SQLite demo)."),
    ] = None,
    match: Annotated[
        str | None, typer.Option("--match", "-k", help="Only conversations whose name has this.")
    ] = None,
) -> None:
    """Run scripted conversations against the demo shop through the real pipeline."""
    from toonbank.assistant.convtests import report, spec
    from toonbank.assistant.convtests.session import run_all
    from toonbank.ops.logging import configure_logging

    configure_logging("WARNING")
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    try:
        conversations = spec.load(path)
    except (ValidationError, YAMLError) as exc:
        typer.echo(f"invalid conversation file: {exc}", err=True)
        raise typer.Exit(2) from None
    if match:
        conversations = [c for c in conversations if match.casefold() in c.name.casefold()]
    if not conversations:
        typer.echo("no conversations found", err=True)
        raise typer.Exit(2)
    outcomes = asyncio.run(run_all(conversations, database_url))
    if as_json:
        typer.echo(json.dumps(report.summary(outcomes), ensure_ascii=False))
    else:
        report.render(outcomes, Console())
    if not all(o.passed for o in outcomes):
        raise typer.Exit(1)
