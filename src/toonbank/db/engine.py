"""Engine creation for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from toonbank.db.sqlite_inline import C_BUSY_TIMEOUT_MS, Checkpointer, inline_creator
from toonbank.db.uow import UnitOfWork

SQLITE_BUSY_TIMEOUT_S = 30
"""How long a SQLite statement waits for another process's write lock before it fails."""


def normalize_url(url: str) -> str:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(
    engine: AsyncEngine, *, writer: bool, busy_timeout_ms: int, autocheckpoint: bool = True
) -> None:
    """WAL, a busy timeout and ``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing.

    SQLite refuses to upgrade a read transaction to a write one while another writer is active
    (SQLITE_BUSY without waiting); taking the write lock at BEGIN avoids that deadlock.
    ``synchronous=NORMAL`` in WAL mode survives process crashes (``kill -9``); only an OS crash
    or power loss can lose the last transactions.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if not autocheckpoint:  # a background thread checkpoints (see Checkpointer)
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight on the DBAPI cursor: ``exec_driver_sql`` would build an execution context
        # and a result for a statement that returns nothing, once per transaction.
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(begin)
        finally:
            cursor.close()


@dataclass
class Database:
    """The engine plus session factories; one per process.

    On SQLite, reads get their own engine whose transactions start with a plain ``BEGIN``:
    in WAL mode they never wait for the writer, so a read issued while this process holds the
    write lock (e.g. a cache miss inside a unit of work) cannot deadlock against it.
    """

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_engine: AsyncEngine
    read_sessionmaker: async_sessionmaker[AsyncSession]
    write_lock: asyncio.Lock | None = None
    """SQLite only: this process's writers queue here, in order, instead of spinning in
    SQLite's busy handler (which sleeps and retries in no particular order)."""
    checkpointer: Checkpointer | None = None
    """SQLite with inline statements: the background WAL checkpoints (stopped by dispose)."""

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def uow(self) -> UnitOfWork:
        """A new unit of work: one transaction, side effects released after commit."""
        return UnitOfWork(self.sessionmaker, self.write_lock)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read-only session (writes belong in a unit of work)."""
        async with self.read_sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def create_database(
    url: str, *, echo: bool = False, pool_size: int = 10, sqlite_inline: bool = True
) -> Database:
    """``sqlite_inline`` (default): SQLite statements run on the event loop's thread instead
    of aiosqlite's helper thread (see :mod:`toonbank.db.sqlite_inline`)."""
    url = normalize_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    busy_ms = SQLITE_BUSY_TIMEOUT_S * 1000
    checkpointer = None
    if parsed.drivername.startswith("sqlite"):
        path = parsed.database or ":memory:"
        if path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if sqlite_inline:
            kwargs["async_creator"] = inline_creator(path, SQLITE_BUSY_TIMEOUT_S)
            busy_ms = C_BUSY_TIMEOUT_MS  # waits are retried without blocking the loop
            checkpointer = Checkpointer(path)
        else:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    read_engine = engine
    if engine.dialect.name == "sqlite":
        auto = checkpointer is None
        _configure_sqlite(engine, writer=True, busy_timeout_ms=busy_ms, autocheckpoint=auto)
        read_engine = create_async_engine(url, **kwargs)
        _configure_sqlite(read_engine, writer=False, busy_timeout_ms=busy_ms, autocheckpoint=auto)
        if checkpointer is not None:
            checkpointer.start()
    return Database(
        engine=engine,
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        read_engine=read_engine,
        read_sessionmaker=async_sessionmaker(read_engine, expire_on_commit=False),
        write_lock=asyncio.Lock() if engine.dialect.name == "sqlite" else None,
        checkpointer=checkpointer,
    )
