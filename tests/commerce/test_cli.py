"""``toonbank catalog import`` and ``toonbank catalog search`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from toonbank.config import Settings

FIXTURES = Path(__file__).parent / "fixtures"


def run(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOONBANK_DATABASE_URL": settings.database_url,
        "TOONBANK_DATA_DIR": str(tmp_path),
        "TOONBANK_SECRET_KEY": "cli-test-secret",
    }
    return subprocess.run(
        [sys.executable, "-m", "toonbank", *args],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip


def test_import_each_format_then_search_json(settings: Settings, tmp_path: Path) -> None:
    assert run(settings, tmp_path, "workspaces", "create", "shop").returncode == 0
    meta = run(
        settings, tmp_path, "catalog", "import", str(FIXTURES / "meta_catalog.csv"),
        "--workspace", "shop", "--json",
    )  # fmt: skip
    assert meta.returncode == 0, meta.stderr
    report = json.loads(meta.stdout)
    assert report["format"] == "meta" and report["products"]["created"] == 3
    assert [(e["row"], e["id"], e["field"]) for e in report["errors"]] == [
        (7, "NEG-QTY", "quantity"), (8, "NO-TITLE", "title"), (9, "BAD-CUR", "price")
    ]  # fmt: skip
    shopify = run(
        settings, tmp_path, "catalog", "import", str(FIXTURES / "shopify_products.csv"),
        "--workspace", "shop", "--partial", "--currency", "EUR",
    )  # fmt: skip
    assert shopify.returncode == 0, shopify.stderr
    assert "Rejected rows" in shopify.stdout and "is required on a product's first row" in (
        shopify.stdout
    )
    forced = run(
        settings, tmp_path, "catalog", "import", str(FIXTURES / "gmc_products.xml"),
        "--workspace", "shop", "--format", "meta", "--partial", "--json",
    )  # fmt: skip
    assert json.loads(forced.stdout)["format"] == "meta"  # --format wins over detection
    found = run(settings, tmp_path, "catalog", "search", "sneakr", "--workspace", "shop", "--json")
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert [h["title"] for h in result["hits"]] == ["Canvas sneaker"]
    assert result["corrections"] == {"sneakr": "sneaker"}
    filtered = run(
        settings, tmp_path, "catalog", "search", "", "--workspace", "shop", "--colour", "black",
        "--max-price", "100", "--json",
    )  # fmt: skip
    titles = [h["title"] for h in json.loads(filtered.stdout)["hits"]]
    assert titles == ["Canvas sneaker", "Wide-leg trousers"]
    table = run(settings, tmp_path, "catalog", "search", "trousers", "--workspace", "shop")
    assert "Wide-leg trousers" in table.stdout and "79.00 EUR" in table.stdout


def test_errors_are_clear_and_exit_non_zero(settings: Settings, tmp_path: Path) -> None:
    run(settings, tmp_path, "workspaces", "create", "shop2")
    broken = run(
        settings, tmp_path, "catalog", "import", str(FIXTURES / "gmc_truncated.xml"),
        "--workspace", "shop2",
    )  # fmt: skip
    assert broken.returncode == 1 and "not well-formed XML" in broken.stderr
    assert "Traceback" not in broken.stderr
    nows = run(
        settings, tmp_path, "catalog", "import", str(FIXTURES / "gmc_products.tsv"),
        "--workspace", "nope",
    )  # fmt: skip
    assert nows.returncode == 1 and "no workspace named 'nope'" in nows.stderr
    bad_format = run(
        settings, tmp_path, "catalog", "import", str(FIXTURES / "gmc_products.tsv"),
        "--workspace", "shop2", "--format", "csv",
    )  # fmt: skip
    assert bad_format.returncode == 2
    translation = run(
        settings, tmp_path, "catalog", "import", str(FIXTURES / "gmc_products.tsv"),
        "--workspace", "shop2", "--translation",
    )  # fmt: skip
    assert translation.returncode == 2 and "--language" in translation.stderr
