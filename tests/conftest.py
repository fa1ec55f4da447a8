"""Shared fixtures: real SQLite and real PostgreSQL, migrated once, emptied between tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

from toonbank.app import create_app
from toonbank.config import Settings
from toonbank.context import Context, create_context
from toonbank.db.migrate import upgrade
from toonbank.models import Base
from toonbank.workspaces.service import create_workspace

# CI explores the same examples on every run (no flaky red builds); locally Hypothesis searches.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

PG_ADMIN = os.environ.get("TOONBANK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _pg_admin(statement: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend for the whole session."""
    sqlite_path = tmp_path_factory.mktemp("db") / "toonbank.db"
    pg_name = f"toonbank_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _pg_admin(f'CREATE DATABASE "{pg_name}"')
    urls = {
        "sqlite": f"sqlite+aiosqlite:///{sqlite_path}",
        "postgresql": _pg_url(pg_name).replace("postgresql://", "postgresql+asyncpg://"),
    }
    for url in urls.values():
        upgrade(url)
    yield urls
    _pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, database_urls: dict[str, str]) -> str:
    url = database_urls[backend]
    _empty_async(url)
    return url


def _empty_async(url: str) -> None:
    import asyncio

    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(Base.metadata.sorted_tables):
                    await conn.execute(text(f'DELETE FROM "{table.name}"'))  # noqa: S608
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-0123456789",
        embedded_worker=False,
        retry_base_seconds=0.05,
        retry_max_seconds=0.5,
        lease_seconds=5,
        dispatch_timeout=2.0,
        worker_poll_interval=0.05,
        widget_rate_limit="1000/minute",
    )


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[Context]:
    context = create_context(settings)
    await context.start()
    yield context
    await context.close()


@pytest.fixture
async def workspace(ctx: Context) -> dict[str, str]:
    async with ctx.db.uow() as uow:
        ws, key = await create_workspace(uow.session, ctx.secret_box, ctx.channels, "acme")
    return {"id": ws.id, "name": ws.name, "api_key": key}


@pytest.fixture
async def app_client(ctx: Context, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, ctx=ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
