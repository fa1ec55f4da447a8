"""Portable bulk statements: batched inserts that return their ids in row order, and the
SQLite driver that runs statements on the event loop (busy waits retried, never blocking)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import select, text

from toonbank.context import Context
from toonbank.db import create_database
from toonbank.db.portable import insert_ids
from toonbank.models import Event
from toonbank.models.base import table_of


async def test_insert_ids_come_back_in_row_order(ctx: Context, workspace: dict[str, str]) -> None:
    table = table_of(Event)
    rows = [
        {"workspace_id": workspace["id"], "type": f"t{n}", "data": {"n": n}, "public": True}
        for n in range(250)
    ]
    async with ctx.db.uow() as uow:
        await insert_ids(uow.session, table, rows[:3])  # ids already taken before the batch
        ids = await insert_ids(uow.session, table, rows)
    assert len(ids) == len(set(ids)) == 250
    async with ctx.db.session() as session:
        stored = dict((await session.execute(select(table.c.id, table.c.type))).all())
    assert [stored[i] for i in ids] == [f"t{n}" for n in range(250)]


async def test_inline_sqlite_waits_for_another_process_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    db = create_database(f"sqlite:///{path}")
    async with db.uow() as uow:
        await uow.session.execute(text("CREATE TABLE t (n INTEGER)"))
    other = sqlite3.connect(path, isolation_level=None)  # another process's writer
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> None:
        async with db.uow() as uow:
            await uow.session.execute(text("INSERT INTO t VALUES (1)"))

    clock = asyncio.create_task(ticker())
    writer = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writer.done()  # waiting for the lock ...
    assert ticks >= 10  # ... while the event loop keeps running
    other.execute("COMMIT")
    await asyncio.wait_for(writer, 5)
    clock.cancel()
    other.close()
    async with db.session() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    await db.dispose()


async def test_wal_is_checkpointed_in_the_background(tmp_path: Path) -> None:
    """Commits never checkpoint on the event loop (autocheckpoint off); the background thread
    copies the log into the database file within about a second."""
    path = tmp_path / "wal.db"
    db = create_database(f"sqlite:///{path}")
    async with db.uow() as uow:
        assert (await uow.session.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        await uow.session.execute(text("CREATE TABLE blob (b BLOB)"))
        for _ in range(40):
            await uow.session.execute(text("INSERT INTO blob VALUES (randomblob(100000))"))
    assert path.stat().st_size < 1_000_000  # committed into the WAL only
    for _ in range(50):
        if path.stat().st_size > 4_000_000:
            break
        await asyncio.sleep(0.1)
    assert path.stat().st_size > 4_000_000
    await db.dispose()
