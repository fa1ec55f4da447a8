"""The documented demo, run as a user would: a Dutch customer looking for a blue blazer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from toonbank.config import Settings

pytestmark = pytest.mark.timeout(300)


def test_blue_blazer_in_dutch_with_products_and_the_reason(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TOONBANK_DATABASE_URL": settings.database_url,
        "TOONBANK_DATA_DIR": str(tmp_path),
        "TOONBANK_SECRET_KEY": "cli-test-secret",
    }
    result = subprocess.run(
        [sys.executable, "-m", "toonbank", "chat"],
        input="Hoi, ik zoek een blauwe blazer maat 50\n",
        capture_output=True, text=True, env=env, timeout=280, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Ik ben de virtuele assistent van Toonbank, een automatische bot" in out  # Dutch
    assert "Je zocht een blauwe blazer in maat 50, dus hier zijn" in out  # the reason
    products = [line for line in out.splitlines() if line.startswith("• ")]
    assert len(products) >= 2 and all("blazer — €" in line for line in products)
    assert "1. In winkelwagen" in out and "Antwoord met een nummer." in out
