"""The report of a conversation-test run: a Rich table, or one JSON object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from toonbank.assistant.convtests.runner import Outcome


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    passed = sum(o.passed for o in outcomes)
    return {
        "total": len(outcomes),
        "passed": passed,
        "failed": len(outcomes) - passed,
        "seconds": round(sum(o.seconds for o in outcomes), 2),
        "conversations": [o.to_json() for o in outcomes],
    }


def render(outcomes: Sequence[Outcome], console: Console) -> None:
    table = Table(title="Conversation tests", show_lines=False)
    table.add_column("", width=2)
    table.add_column("conversation")
    table.add_column("source", style="dim")
    table.add_column("turns", justify="right")
    table.add_column("s", justify="right")
    for o in outcomes:
        mark = "[green]✓[/green]" if o.passed else "[red]✗[/red]"
        table.add_row(mark, o.name, o.source, str(len(o.turns)), f"{o.seconds:.1f}")
    console.print(table)
    for o in outcomes:
        if o.passed:
            continue
        console.print(f"[red bold]✗ {o.name}[/red bold] [dim]({o.source})[/dim]", highlight=False)
        if o.error:
            console.print(f"  error: {o.error}", markup=False, highlight=False)
        for turn in o.turns:
            for failure in turn.failures:
                console.print(f"  turn {turn.index} ({turn.action}): {failure}", markup=False)
            if turn.failures:
                for reply in turn.replies:
                    console.print("    bot: " + reply.replace("\n", "\n         "), markup=False)
    s = summary(outcomes)
    colour = "green" if not s["failed"] else "red"
    console.print(f"[{colour}]{s['passed']}/{s['total']} conversations passed[/{colour}]")
