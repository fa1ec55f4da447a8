"""SQLite statements on the event loop's own thread, behind aiosqlite's interface.

aiosqlite runs every call in a helper thread: a statement through SQLAlchemy's adapter is four
round trips (cursor, execute, fetch, close), each a queue hand-off and a wake-up of the event
loop. Measured on the 2-core benchmark machine (2,000 ``session.execute(select(literal(1)))``
in one unit of work): ~486 µs of CPU each that way and ~60 µs inline, while SQLite itself
answers an indexed statement in a few microseconds. The thread buys nothing for short
statements: the event loop waits for the answer anyway, and sqlite3 needs no I/O wait in WAL
mode except a commit's ``write()`` (``synchronous=NORMAL`` syncs only at checkpoints).

:class:`InlineConnection` is an ``aiosqlite.Connection`` whose statements run inline. Its
helper thread still exists (it opens and closes the connection and serves SQLAlchemy's
isolation-level setter), so the sqlite3 connection is opened with ``check_same_thread=False``;
only one thread uses it at a time because SQLAlchemy checks a connection out to one task.

Blocking: a writer that finds the database locked by *another process* would make SQLite's busy
handler sleep on the event loop's thread. So SQLite's busy timeout is zero and a busy statement
is retried here with short ``asyncio.sleep`` s (other tasks keep running) until
``busy_timeout``. A statement that failed with ``SQLITE_BUSY`` changed nothing, so retrying it
is safe. Writers in the same process never meet that way: they queue on
:attr:`Database.write_lock` first.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite
import structlog

log = structlog.get_logger(__name__)

C_BUSY_TIMEOUT_MS = 0
"""What SQLite's own busy handler may wait, blocking the thread, before we take over: none.
Its sleeps (1, 2, 5, 10, … ms) would block the event loop, and it cannot tell when the lock is
free anyway."""
_FIRST_RETRY_S = 0.0005
_MAX_RETRY_S = 0.005
"""Retries stay frequent: another process's write transactions last a few milliseconds, and
a waiter that slept 25 ms after a 1 ms transaction would only add latency."""


def _busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "database is locked" in message or "database table is locked" in message


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs each call directly instead of in its thread."""

    busy_timeout: float = 30.0

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        delay = _FIRST_RETRY_S
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                deadline = deadline or loop.time() + self.busy_timeout
                if loop.time() >= deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, _MAX_RETRY_S)


def inline_creator(path: str, busy_timeout: float = 30.0) -> Callable[[], Awaitable[Any]]:
    """An ``async_creator`` for :func:`sqlalchemy.ext.asyncio.create_async_engine`."""

    async def connect() -> InlineConnection:
        connector = partial(
            sqlite3.connect,
            path,
            timeout=C_BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            uri=path.startswith("file:"),
        )
        connection = InlineConnection(connector, iter_chunk_size=64)
        connection.busy_timeout = busy_timeout
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connect
        await connection  # opens the sqlite3 connection (in the helper thread)
        return connection

    return connect


CHECKPOINT_INTERVAL_S = 1.0


class Checkpointer:
    """Copies the write-ahead log into the database file from a background thread.

    SQLite's automatic checkpoint runs inside whichever commit crosses 1,000 WAL pages, and a
    checkpoint ``fsync``s: inline, that stalled the event loop for up to a second on a slow
    disk. With inline connections the automatic checkpoint is off (``wal_autocheckpoint=0``)
    and this thread runs a ``PASSIVE`` checkpoint every second instead, on its own connection:
    it never waits for readers or writers, and the syncing happens off the event loop. When
    the last connection to a database closes, SQLite checkpoints it anyway.
    """

    def __init__(self, path: str, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and self._path != ":memory:":
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self._interval):
                try:
                    if connection is None:
                        connection = sqlite3.connect(
                            self._path, timeout=1.0, uri=self._path.startswith("file:")
                        )
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. busy, or the file went away: try later
                    log.debug("sqlite_checkpoint_failed", error=str(exc))
        finally:
            if connection is not None:
                connection.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
