"""The bare baseline server: the same stack as Toonbank with nothing on top.

FastAPI + uvicorn (same loop and HTTP parser: uvloop + httptools), async SQLAlchemy on
aiosqlite or asyncpg with Toonbank's engine settings (SQLite: WAL, ``synchronous=NORMAL``,
``busy_timeout``, ``BEGIN IMMEDIATE`` for writers; PostgreSQL: pool 10 + 10 overflow,
pre-ping). ``POST /webhooks/{connection_id}`` inserts one row per request in its own
transaction and answers 200. With a receiver URL it then immediately POSTs a signed reply to
``{receiver}/messages`` (one shared ``httpx.AsyncClient``, like Toonbank's dispatcher), which is
the bare minimum of "message in → reply handed to the provider".

Run: ``python -m bench.baseline --port 8001 --workers 2 --database-url sqlite+aiosqlite:///x.db``.
Call :func:`prepare` first: it creates the table once, before worker processes race for it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ENV_DATABASE = "BENCH_BASELINE_DATABASE_URL"
ENV_RECEIVER = "BENCH_BASELINE_RECEIVER_URL"
ENV_SIGNING = "BENCH_BASELINE_SIGNING"

metadata = MetaData()
events = Table(
    "bench_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connection_id", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", Float, nullable=False),
)


def create_engine(url: str) -> AsyncEngine:
    """An async engine configured as ``toonbank.db.engine.create_database`` configures its own."""
    kwargs: dict[str, Any] = {}
    sqlite = make_url(url).drivername.startswith("sqlite")
    if sqlite:
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if sqlite:

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def prepare(url: str) -> None:
    """Create the table (once, from the parent, before the workers start)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()


def _signed_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "content-type": "application/json",
        "x-toonbank-timestamp": timestamp,
        "x-toonbank-signature": "sha256=" + digest.hexdigest(),
    }


def create_app() -> FastAPI:
    """The baseline app, configured from ``BENCH_BASELINE_*`` environment variables."""
    database_url = os.environ[ENV_DATABASE]
    receiver = os.environ.get(ENV_RECEIVER) or None
    secret = os.environ.get(ENV_SIGNING, "")
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["engine"] = create_engine(database_url)
        state["http"] = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        try:
            yield
        finally:
            await state["http"].aclose()
            await state["engine"].dispose()

    app = FastAPI(title="bench baseline", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webhooks/{connection_id}")
    async def receive(connection_id: str, request: Request) -> Response:
        body = await request.body()
        engine: AsyncEngine = state["engine"]
        async with engine.begin() as conn:
            await conn.execute(
                insert(events).values(
                    connection_id=connection_id[:64], body=body.decode(), received_at=time.time()
                )
            )
        if receiver is not None:
            message = json.loads(body)["messages"][0]
            reply = json.dumps(
                {
                    "to": message["from"],
                    "content": {"type": "text", "text": f"You said: {message['content']['text']}"},
                    "idempotency_key": f"baseline-{message['id']}",
                }
            ).encode()
            headers = _signed_headers(secret, reply)
            headers["idempotency-key"] = f"baseline-{message['id']}"
            answer = await state["http"].post(
                receiver + "/messages", content=reply, headers=headers
            )
            if answer.status_code >= 300:
                return Response(b"receiver failed", status_code=502)
        return Response(b"ok", status_code=200)

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the baseline with uvicorn (``--workers`` processes)."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--receiver-url", default="")
    parser.add_argument("--secret", default="")
    args = parser.parse_args(argv)
    os.environ[ENV_DATABASE] = args.database_url
    os.environ[ENV_RECEIVER] = args.receiver_url.rstrip("/")
    os.environ[ENV_SIGNING] = args.secret
    uvicorn.run(
        "bench.baseline:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
