"""The documented demo: `toonbank serve --demo` + `toonbank simulate`, a channel, a customer."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(Toonbank URL, simulator URL, the simulator's printed instructions)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOONBANK_")}
    app_port, sim_port = _free_port(), _free_port()
    app_url, sim_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{sim_port}"
    commands = {
        "serve": ["serve", "--demo", "--port", str(app_port)],
        "simulate": ["simulate", "--port", str(sim_port), "--target", app_url],
    }
    processes = {}
    for name, args in commands.items():
        with (tmp_path / f"{name}.log").open("wb") as log:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "toonbank", *args],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    try:
        _wait(f"{app_url}/readyz", tmp_path / "serve.log")
        _wait(f"{sim_url}/_sim", tmp_path / "simulate.log")
        yield app_url, sim_url, (tmp_path / "simulate.log").read_text()
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_demo_against_the_simulator(demo: tuple[str, str, str], tmp_path: Path) -> None:
    app_url, sim_url, printed = demo
    overview = httpx.get(f"{sim_url}/_sim").json()["providers"]
    assert set(overview) == {
        "whatsapp",
        "messenger",
        "instagram",
        "telegram",
        "twilio",
        "wechat",
        "line",
        "viber",
    }
    for name, provider in overview.items():
        assert f"api_base: {sim_url}/{name}" in printed
        assert provider["api_base"] == f"{sim_url}/{name}"

    # The printed command connects the demo workspace to the simulated Telegram bot...
    line = next(x for x in printed.splitlines() if "channels add telegram" in x)
    args = shlex.split(line.strip())[1:]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOONBANK_")}
    added = subprocess.run(
        [sys.executable, "-m", "toonbank", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    connection = json.loads(added.stdout)
    # ...whose webhook is set as for a real bot: Bot API setWebhook with the secret token.
    settings = dict(arg.split("=", 1) for arg in args if "=" in arg)
    bot = f"{connection['api_base_url']}/bot{settings['bot_token']}"
    answer = httpx.post(
        f"{bot}/setWebhook",
        data={
            "url": f"{app_url}/webhooks/{connection['id']}",
            "secret_token": settings["secret_token"],
        },
    )
    assert answer.json() == {"ok": True, "result": True, "description": "Webhook was set"}

    # A customer writes and taps a button; the bot's answers arrive at the Bot API.
    said = httpx.post(f"{sim_url}/_sim/telegram/customer", json={"text": "hi"}).json()
    assert said["status"] == 200

    def messages(count: int) -> list[dict[str, object]]:
        deadline = time.monotonic() + 30
        while True:
            found = httpx.get(f"{sim_url}/_sim/telegram/messages").json()["messages"]
            if len(found) >= count:
                return list(found)
            assert time.monotonic() < deadline, found
            time.sleep(0.1)

    greeting, menu = messages(2)
    assert greeting["to"] == said["customer"]
    assert "virtual assistant, an automated bot" in str(greeting["text"])  # the demo's assistant
    assert menu["options"] == ["Find a product", "Where is my order?", "Talk to a person"]
    tapped = httpx.post(
        f"{sim_url}/_sim/telegram/customer", json={"tap": "Where is my order?"}
    ).json()
    assert tapped["customer"] == said["customer"]  # the same customer as before
    assert messages(3)[2]["text"] == "What is your order number? It starts with TB-."
