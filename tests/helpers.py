"""Test helpers: API-channel connections, signed webhooks, counting rows."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from toonbank.channels.api import signed_headers
from toonbank.channels.connections import create_connection
from toonbank.context import Context
from toonbank.models import ChannelConnection

SECRET = "whsec-test-0123456789"


async def api_connection(
    ctx: Context, workspace_id: str, base_url: str | None = None, rate: int | None = None
) -> ChannelConnection:
    async with ctx.db.uow() as uow:
        row = await create_connection(
            uow.session,
            ctx.secret_box,
            ctx.channels,
            workspace_id=workspace_id,
            type="api",
            name=f"api-{time.monotonic_ns()}",
            values={"webhook_secret": SECRET},
            api_base_url=base_url,
            rate_per_second=rate,
        )
    return row


def message_payload(msg_id: str, sender: str = "cust-1", text: str = "hi") -> dict[str, Any]:
    return {
        "messages": [
            {
                "id": msg_id,
                "from": sender,
                "name": "Ann",
                "timestamp": int(time.time()),
                "content": {"type": "text", "text": text},
            }
        ]
    }


async def post_signed(
    client: httpx.AsyncClient,
    connection_id: str,
    payload: dict[str, Any] | bytes,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post(
        f"/webhooks/{connection_id}", content=body, headers=signed_headers(secret, body, timestamp)
    )


async def count(ctx: Context, model: Any, *where: Any) -> int:
    async with ctx.db.session() as session:
        value = await session.scalar(select(func.count()).select_from(model).where(*where))
    return int(value or 0)
