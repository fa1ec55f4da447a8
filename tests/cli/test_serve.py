"""`toonbank serve` on a fresh directory just works, and shuts down gracefully."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_demo_on_fresh_sqlite(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOONBANK_")}
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "toonbank", "serve", "--demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        page = httpx.get(f"{base}/")
        assert page.status_code == 200
        assert 'src="/webchat/widget.js"' in page.text and "{{CONNECTION_ID}}" not in page.text
        assert (
            httpx.get(f"{base}/webchat/widget.js")
            .headers["content-type"]
            .startswith("application/javascript")
        )
        assert (tmp_path / "var" / "toonbank.db").exists()  # the default: SQLite under ./var
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal as its exit status.
        assert process.wait(30) in (0, -signal.SIGTERM)
    finally:
        process.kill()
    output = (tmp_path / "serve.log").read_text()
    assert "demo@toonbank.local" in output  # the demo agent login is printed
    assert "worker_stopped" in output  # the in-process worker finished its in-flight work
