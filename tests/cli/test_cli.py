"""The command line, run as a user would: real processes, pipes, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from toonbank.config import Settings


def _run(
    settings: Settings, tmp_path: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TOONBANK_DATABASE_URL": settings.database_url,
        "TOONBANK_DATA_DIR": str(tmp_path),
        "TOONBANK_SECRET_KEY": "cli-test-secret",
    }
    return subprocess.run(
        [sys.executable, "-m", "toonbank", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )


def test_chat_in_a_pipe_prints_the_reply_and_exits_zero(settings: Settings, tmp_path: Path) -> None:
    result = _run(settings, tmp_path, "chat", stdin="hi\n")
    assert result.returncode == 0, result.stderr
    assert "Toonbank's virtual assistant, an automated bot" in result.stdout  # the demo's assistant
    assert "1. Find a product" in result.stdout
    assert "you>" not in result.stdout  # no prompt when stdin is not a terminal


def test_chat_numbered_reply_maps_to_the_option(settings: Settings, tmp_path: Path) -> None:
    result = _run(settings, tmp_path, "chat", stdin="hoi\n2\nniets\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("virtuele assistent" in line for line in lines)  # answered in Dutch
    assert "2. Waar is mijn bestelling?" in lines
    assert "Wat is je bestelnummer? Het begint met TB-." in lines  # "2" chose the order option
    assert "Oké, laat maar. Waarmee kan ik je nog helpen?" in lines


def test_workspace_create_and_channels(settings: Settings, tmp_path: Path) -> None:
    created = _run(settings, tmp_path, "workspaces", "create", "shop1")
    assert created.returncode == 0, created.stderr
    data = json.loads(created.stdout)
    assert data["name"] == "shop1" and data["api_key"].startswith("tbk_") and len(data["id"]) == 32
    again = _run(settings, tmp_path, "workspaces", "create", "shop1")
    assert again.returncode == 1 and "already exists" in again.stderr
    added = _run(
        settings,
        tmp_path,
        "channels", "add", "api", "--workspace", "shop1", "--name", "erp",
        "--api-base", "http://127.0.0.1:9", "--set", "webhook_secret=abc",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    channel = json.loads(added.stdout)
    assert channel["webhook_url"].endswith(f"/webhooks/{channel['id']}")
    listed = _run(settings, tmp_path, "channels", "list", "--workspace", "shop1")
    types = [json.loads(line)["type"] for line in listed.stdout.splitlines()]
    assert types == ["webchat", "terminal", "api"]
    missing = _run(
        settings, tmp_path, "channels", "add", "api", "--workspace", "shop1", "--name", "x"
    )
    assert missing.returncode == 1 and "webhook_secret" in missing.stderr
    bad_set = _run(
        settings,
        tmp_path,
        "channels",
        "add",
        "api",
        "--workspace",
        "shop1",
        "--name",
        "y",
        "--set",
        "oops",
    )
    assert bad_set.returncode == 2
    nows = _run(settings, tmp_path, "chat", "--workspace", "nope", stdin="hi\n")
    assert nows.returncode == 1 and "no workspace" in nows.stderr


@pytest.mark.parametrize("role", ["agent", "god"])
def test_agents_add(settings: Settings, tmp_path: Path, role: str) -> None:
    _run(settings, tmp_path, "workspaces", "create", "shop2")
    result = _run(
        settings, tmp_path, "agents", "add", "--workspace", "shop2", "--email", "a@b.test",
        "--password", "longenough", "--role", role,
    )  # fmt: skip
    if role == "agent":
        assert result.returncode == 0 and json.loads(result.stdout)["role"] == "agent"
    else:
        assert result.returncode == 1 and "role must be one of" in result.stderr


def test_config_file_is_read_and_bad_files_are_clear_errors(
    settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "toonbank.toml"
    good.write_text(f'[toonbank]\ndatabase_url = "{settings.database_url}"\n')
    env = {k: v for k, v in os.environ.items() if k != "TOONBANK_DATABASE_URL"}
    created = subprocess.run(
        [sys.executable, "-m", "toonbank", "workspaces", "create", "fromfile", "--config", good],
        capture_output=True, text=True, env={**env, "TOONBANK_DATA_DIR": str(tmp_path)},
        cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    listed = _run(settings, tmp_path, "channels", "list", "--workspace", "fromfile")
    assert listed.returncode == 0  # the workspace landed in the database named by the file
    typo = tmp_path / "typo.toml"
    typo.write_text('[toonbank]\ndatabse_url = "sqlite:///x.db"\n')
    bad = _run(settings, tmp_path, "migrate", "--config", str(typo))
    assert bad.returncode == 2 and "unknown settings databse_url" in bad.stderr
    missing = _run(settings, tmp_path, "migrate", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_duplicate_channel_name_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    _run(settings, tmp_path, "workspaces", "create", "shop3")
    args = [
        "channels",
        "add",
        "api",
        "--workspace",
        "shop3",
        "--name",
        "erp",
        "--set",
        "webhook_secret=x",
    ]
    assert _run(settings, tmp_path, *args).returncode == 0
    again = _run(settings, tmp_path, *args)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr
