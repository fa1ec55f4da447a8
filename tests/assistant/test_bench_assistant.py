"""Smoke test of ``bench.assistant`` on a tiny input: both parts run through the real engine and
pipeline, every timed message is answered, and the report shows both responders (no timing
assertions: speed is measured by the benchmark itself, not by tests)."""

from __future__ import annotations

import math

import pytest
from bench.assistant import Row, eval_rows, markdown, nlu_mix, run_all, turn_scripts
from bench.report import Machine

pytestmark = pytest.mark.timeout(300)


def tiny_rows() -> list[Row]:
    rows = eval_rows()
    wanted = {"greeting", "product_search", "delivery_info", "goodbye"}
    picked: dict[tuple[str, str], Row] = {}
    for row in rows:
        if row.intent in wanted and row.language in ("en", "nl"):
            picked.setdefault((row.intent, row.language), row)
    return list(picked.values())


def test_mix_and_scripts_are_deterministic_and_cover_every_path() -> None:
    rows = tiny_rows()
    mix = nlu_mix(rows, payloads=5, repeats=20)
    assert mix == nlu_mix(rows, payloads=5, repeats=20)
    assert len(mix) == len(rows) + 5 + 20
    assert sum(1 for p in mix if p.payload) == 5
    scripts = turn_scripts(rows, contacts=3, turns=4)
    assert [len(s) for s in scripts] == [4, 4, 4]
    assert all(s[2] == "1" for s in scripts)
    assert scripts == turn_scripts(rows, contacts=3, turns=4)


async def test_benchmark_reports_both_responders(database_url: str) -> None:
    results = await run_all(contacts=2, turns=3, rows=tiny_rows(), database_url=database_url)
    nlu = results["nlu"]
    assert nlu["overall"]["n"] == nlu["fast"]["n"] + nlu["model"]["n"]
    assert {"payload", "cache"} <= set(nlu["sources"])
    assert nlu["messages_per_second"] > 0
    for key in ("overall", "fast"):
        assert 0 < nlu[key]["p50_ms"] <= nlu[key]["p99_ms"]
    runs = results["turns"]["runs"]
    assert set(runs) == {"assistant", "placeholder"}
    for run in runs.values():
        assert run["unanswered"] == 0
        assert run["turns"] == 2 * 3
        assert run["turns_per_second"] > 0
        assert 0 < run["p50_ms"] <= run["p99_ms"]
    assert results["turns"]["ratio"] > 0
    report = markdown(results, Machine.detect(None), 1.0)
    assert "| assistant | 6 |" in report
    assert "| placeholder | 6 |" in report
    assert "| nan" not in report and "n/a" not in report
    assert math.isfinite(results["turns"]["ratio"])
