"""Servers under test as subprocesses, their databases, and Toonbank's CLI setup.

Every server runs in its own process group on a free loopback port, with its output in a log
file; it is stopped (SIGTERM, then SIGKILL) when its ``with`` block ends, also on errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any ``TOONBANK_*`` setting of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOONBANK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def toonbank_env(data_dir: Path, database_url: str) -> dict[str, str]:
    """Everything Toonbank writes stays in ``data_dir`` (a temporary directory)."""
    return clean_env(
        TOONBANK_DATA_DIR=str(data_dir),
        TOONBANK_SECRET_KEY=secrets.token_urlsafe(32),
        TOONBANK_DATABASE_URL=database_url,
    )


class Server:
    """A server subprocess that answers ``GET /healthz`` once it is up."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own session, appending its output to the log."""
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                argv,
                env=self.env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def __enter__(self) -> Server:
        self.proc = self._spawn(self.argv)
        try:
            self._wait_healthy(timeout=60)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + "/healthz").status_code == 200:
                        return
                time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer /healthz:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server's live processes."""
        if self.proc is None:
            return 0.0
        return process_group_cpu(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        # uvicorn's worker processes share the group; make sure none outlives the supervisor.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def process_group_cpu(pgid: int) -> float:
    """Seconds of CPU used by the live processes of a process group (from ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine spent busy since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuUse:
    """Cores in use during a phase: by the server under test, and by the whole machine."""

    server: float
    machine: float


class CpuMeter:
    """How many cores a server (and the machine) used between :meth:`start` and :meth:`stop`.

    The machine figure shows whether anything besides the benchmark was busy meanwhile.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self._cpu = self._busy = self._wall = 0.0

    def start(self) -> None:
        self._cpu = self.server.cpu_seconds()
        self._busy = machine_busy_seconds()
        self._wall = time.monotonic()

    def server_seconds(self) -> float:
        """CPU seconds the server's processes used since :meth:`start`."""
        return self.server.cpu_seconds() - self._cpu

    def stop(self) -> CpuUse:
        elapsed = time.monotonic() - self._wall
        if elapsed <= 0:
            return CpuUse(math.nan, math.nan)
        return CpuUse(
            server=(self.server.cpu_seconds() - self._cpu) / elapsed,
            machine=(machine_busy_seconds() - self._busy) / elapsed,
        )


class SplitServer(Server):
    """``toonbank serve --no-worker`` plus one ``toonbank worker`` process: the API on one
    core, the pipeline on the other (wake-ups between them over Redis)."""

    def __init__(self, api: Server, worker_argv: list[str]) -> None:
        super().__init__(api.name, api.argv, api.env, api.port, api.log_path)
        self.worker_argv = worker_argv
        self.worker: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        super().__enter__()
        self.worker = self._spawn(self.worker_argv)
        time.sleep(2.0)  # the worker subscribes to wake-ups before any load arrives
        return self

    def cpu_seconds(self) -> float:
        worker = process_group_cpu(self.worker.pid) if self.worker is not None else 0.0
        return super().cpu_seconds() + worker

    def stop(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None and worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=15.0)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, signal.SIGKILL)
        super().stop()


def toonbank_server(
    env: dict[str, str],
    data_dir: Path,
    database_url: str,
    *,
    workers: int,
    embedded_worker: bool,
    split_worker: bool = False,
) -> Server:
    """``toonbank serve`` on a free port (not started until entered).

    ``env`` must be the one the setup commands ran with (it holds the secret key that sealed
    the channel's webhook secret).
    """
    port = free_port()
    argv = [sys.executable, "-m", "toonbank", "serve", "--host", HOST, "--port", str(port)]
    argv += ["--workers", str(workers), "--database-url", database_url]
    if not embedded_worker or split_worker:
        argv.append("--no-worker")
    log = data_dir / f"toonbank-{port}.log"
    if split_worker:
        worker = [sys.executable, "-m", "toonbank", "worker", "--database-url", database_url]
        return SplitServer(Server("toonbank", argv, env, port, log), worker)
    return Server("toonbank", argv, env, port, log)


def baseline_server(
    data_dir: Path,
    database_url: str,
    *,
    workers: int,
    receiver_url: str = "",
    secret: str = "",
) -> Server:
    """``python -m bench.baseline`` on a free port (not started until entered)."""
    from bench.baseline import prepare

    asyncio.run(prepare(database_url))
    port = free_port()
    argv = [sys.executable, "-m", "bench.baseline", "--host", HOST, "--port", str(port)]
    argv += ["--workers", str(workers), "--database-url", database_url]
    argv += ["--receiver-url", receiver_url, "--secret", secret]
    log = data_dir / f"baseline-{port}.log"
    return Server("baseline", argv, clean_env(), port, log)


def toonbank_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run a ``toonbank`` command that prints JSON; returns the JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "toonbank", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"toonbank {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def setup_api_channel(env: dict[str, str], api_base: str, secret: str, rate: int) -> str:
    """Create a workspace and a custom API channel with the CLI; returns the connection id."""
    toonbank_cli(env, "workspaces", "create", "bench")
    channel = toonbank_cli(
        env,
        "channels",
        "add",
        "api",
        "--workspace",
        "bench",
        "--name",
        "bench-api",
        "--api-base",
        api_base,
        "--set",
        f"webhook_secret={secret}",
        "--rate",
        str(rate),
    )
    return str(channel["id"])


@contextlib.contextmanager
def fresh_database(backend: str, data_dir: Path, pg_admin_url: str) -> Iterator[str]:
    """A new, empty database for one run; a PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
        return
    name = f"toonbank_bench_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_pg_execute(pg_admin_url, f'CREATE DATABASE "{name}"'))
    try:
        base = pg_admin_url.rsplit("/", 1)[0].split("://", 1)[1]
        yield f"postgresql+asyncpg://{base}/{name}"
    finally:
        asyncio.run(_pg_execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg_fetch(admin_url: str, query: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=5)
    try:
        return str(await conn.fetchval(query))
    finally:
        await conn.close()


async def _pg_execute(admin_url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def postgres_version(admin_url: str) -> tuple[str | None, str | None]:
    """(server version, None) when PostgreSQL answers at ``admin_url``, else (None, why not)."""
    try:
        return asyncio.run(_pg_fetch(admin_url, "SHOW server_version")), None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
