"""``toonbank test PATH`` as a business runs it: report, ``--json``, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(300)

SCRIPT = """
name: greets and discloses the bot
turns:
  - say: "hi"
    expect: {intent: greeting, reply_contains: "automated bot", handover: false}
---
name: a wrong expectation fails
turns:
  - say: "hi"
    expect: {reply_contains: "this text is never said", handover: true}
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOONBANK_")}
    return subprocess.run(
        [sys.executable, "-m", "toonbank", "test", *args],
        capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path, check=False,
    )  # fmt: skip


def test_report_json_and_exit_codes(tmp_path: Path) -> None:
    script = tmp_path / "shop.yaml"
    script.write_text(SCRIPT, encoding="utf-8")
    result = run(tmp_path, str(script), "--json")
    assert result.returncode == 1, result.stderr  # one conversation fails
    report = json.loads(result.stdout)
    assert (report["total"], report["passed"], report["failed"]) == (2, 1, 1)
    failed = next(c for c in report["conversations"] if not c["passed"])
    assert failed["name"] == "a wrong expectation fails"
    messages = {f["message"] for f in failed["failures"]}
    assert "no reply contains 'this text is never said'" in messages
    assert any(m.startswith("conversation status 'bot'") for m in messages)

    only_good = run(tmp_path, str(script), "-k", "greets")
    assert only_good.returncode == 0, only_good.stdout + only_good.stderr
    assert "1/1 conversations passed" in only_good.stdout


def test_an_invalid_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nturns:\n  - say: hi\n    tap: 1\n", encoding="utf-8")
    result = run(tmp_path, str(bad))
    assert result.returncode == 2
    assert "exactly one of" in result.stderr
