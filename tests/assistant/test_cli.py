"""``toonbank assistant …`` as scripts run it: JSON contracts, imports, evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toonbank.assistant.engine import UnderstandingEngine
from toonbank.config import Settings

pytestmark = pytest.mark.timeout(300)


def run(
    settings: Settings, tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOONBANK_DATABASE_URL": settings.database_url,
        "TOONBANK_DATA_DIR": str(tmp_path),
        "TOONBANK_SECRET_KEY": "cli-test-secret",
    }
    return subprocess.run(
        [sys.executable, "-m", "toonbank", *args], input=stdin,
        capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path, check=False,
    )  # fmt: skip


def test_understand_text_and_jsonl(
    settings: Settings, tmp_path: Path, engine: UnderstandingEngine
) -> None:
    one = run(settings, tmp_path, "assistant", "understand", "Hoi! Waar is bestelling 4412?")
    assert one.returncode == 0, one.stderr
    result = json.loads(one.stdout)
    assert (result["language"], result["intent"]) == ("nl", "order_status")
    assert result["entities"] == {"order_number": ["4412"]}
    assert 0 < result["confidence"] <= 1 and result["out_of_scope"] is False

    many = run(
        settings, tmp_path, "assistant", "understand", "--jsonl",
        stdin="thx\ndo you have black boots size 40\n\n",
    )  # fmt: skip
    assert many.returncode == 0, many.stderr
    lines = [json.loads(line) for line in many.stdout.splitlines()]
    assert [r["intent"] for r in lines] == ["goodbye", "product_search", "other"]
    assert lines[1]["entities"]["colour"] == ["black"] and lines[1]["entities"]["size"] == ["40"]
    assert run(settings, tmp_path, "assistant", "understand").returncode == 2


def test_import_intents_and_eval_with_train(settings: Settings, tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    train.write_text(
        "text,intent,language\n"
        "do you sell gift cards,gift_card,en\ncadeaubon kopen,gift_card,nl\n"
        "carte cadeau,gift_card,fr\nhow many points do I have,loyalty_points,en\n"
        "spaarpunten,loyalty_points,nl\npoints de fidélité,loyalty_points,fr\n"
    )
    test = tmp_path / "test.csv"
    test.write_text(
        "text,intent,language\ngiftcard please,gift_card,en\nmes points svp,loyalty_points,fr\n"
        "where is my parcel,order_status,en\n"
    )
    assert run(settings, tmp_path, "workspaces", "create", "shop").returncode == 0
    imported = run(
        settings, tmp_path, "assistant", "intents", "import", str(train), "--workspace", "shop",
        "--json",
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout) == {
        "added": 6, "unchanged": 0, "intents": {"gift_card": 3, "loyalty_points": 3},
    }  # fmt: skip
    listed = run(settings, tmp_path, "assistant", "intents", "list", "-w", "shop", "--json")
    assert json.loads(listed.stdout) == {"gift_card": 3, "loyalty_points": 3}

    report = run(
        settings, tmp_path, "assistant", "eval", str(test), "--train", str(train), "--json"
    )
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["n"] == 3 and data["oos_support"] == 1
    assert {"accuracy", "macro_f1", "oos_recall", "language_accuracy"} <= set(data)
    table = run(settings, tmp_path, "assistant", "eval", str(test), "--train", str(train))
    assert table.returncode == 0 and "accuracy=" in table.stdout and "Confusion" in table.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("message,label\nhi,greeting\n")
    failed = run(settings, tmp_path, "assistant", "intents", "import", str(bad), "-w", "shop")
    assert failed.returncode != 0 and "text,intent" in failed.stderr
