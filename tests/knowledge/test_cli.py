"""``toonbank knowledge import`` and ``search`` as scripts run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toonbank.config import Settings
from toonbank.context import Context

pytestmark = pytest.mark.timeout(300)


def run(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOONBANK_DATABASE_URL": settings.database_url,
        "TOONBANK_DATA_DIR": str(tmp_path),
        "TOONBANK_SECRET_KEY": "cli-test-secret",
    }
    return subprocess.run(
        [sys.executable, "-m", "toonbank", *args],
        capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path, check=False,
    )  # fmt: skip


async def test_import_directory_and_search(
    settings: Settings, tmp_path: Path, ctx: Context, workspace: dict[str, str]
) -> None:
    faq = tmp_path / "faq"
    (faq / "nl").mkdir(parents=True)
    (faq / "returns.md").write_text(
        "---\ntitle: Returns\nsource_url: https://shop.test/returns\n---\n"
        "Return anything within 30 days, free in our stores.\n"
    )
    (faq / "nl" / "returns.md").write_text(
        "---\ntitle: Retourneren\n---\nTerugsturen kan binnen 30 dagen, gratis in de winkel.\n"
    )
    (faq / "more.csv").write_text(
        "title,body,language\nGift cards,Gift cards work online and in every store.,en\n"
    )
    name = workspace["name"]
    first = run(
        settings, tmp_path, "knowledge", "import", str(faq), "-w", name, "-l", "en", "--json"
    )
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"created": 3, "updated": 0, "unchanged": 0, "chunks": 3}
    again = run(
        settings, tmp_path, "knowledge", "import", str(faq), "-w", name, "-l", "en", "--json"
    )
    assert json.loads(again.stdout)["unchanged"] == 3

    found = run(
        settings, tmp_path, "knowledge", "search", "hoe kan ik iets terugsturen?", "-w", name,
        "--language", "nl", "--json",
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert (hits[0]["title"], hits[0]["language"], hits[0]["source"]) == (
        "Retourneren", "nl", "returns"
    )  # fmt: skip
    table = run(settings, tmp_path, "knowledge", "search", "gift card", "-w", name)
    assert table.returncode == 0 and "Gift cards" in table.stdout

    missing = run(settings, tmp_path, "knowledge", "import", str(faq), "-w", name)
    assert missing.returncode == 2 and "no language" in missing.stderr  # more.csv: no default
    unknown = run(settings, tmp_path, "knowledge", "search", "x", "-w", "nope")
    assert unknown.returncode == 1 and "no workspace" in unknown.stderr
