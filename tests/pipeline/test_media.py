"""Media stage: inbound provider media are copied into Toonbank's storage, or reported."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.helpers import api_connection, post_signed

from toonbank.context import Context
from toonbank.models import MediaFetch, Message
from toonbank.pipeline.worker import Worker
from toonbank.simulator.api_channel import BackgroundServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _files() -> Starlette:
    async def ok(_request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    async def gone(_request: Request) -> Response:
        return Response(b"not found", status_code=404)

    async def broken(_request: Request) -> Response:
        return Response(b"oops", status_code=503)

    return Starlette(
        routes=[Route("/ok.png", ok), Route("/gone.png", gone), Route("/broken.png", broken)]
    )


def _photo(msg_id: str, url: str) -> dict[str, Any]:
    content = {"type": "media", "kind": "image", "url": url, "caption": "this one?"}
    return {
        "messages": [
            {"id": msg_id, "from": "cust", "timestamp": int(time.time()), "content": content}
        ]
    }


async def _inbound(ctx: Context, provider_id: str) -> Message:
    async with ctx.db.session() as session:
        message = await session.scalar(
            select(Message).where(Message.provider_message_id == provider_id)
        )
    assert message is not None
    return message


async def test_provider_media_are_copied_and_served_from_our_storage(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    conn = await api_connection(ctx, workspace["id"])
    with BackgroundServer(_files()) as files:
        await post_signed(app_client, conn.id, _photo("p1", f"{files.url}/ok.png"))
        await Worker(ctx).drain()
    message = await _inbound(ctx, "p1")
    assert message.content["url"].startswith("/media/")
    assert message.content["caption"] == "this one?"
    assert message.error_code is None
    served = await app_client.get(message.content["url"])
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    async with ctx.db.session() as session:
        assert (await session.scalar(select(MediaFetch))) is None  # queue emptied


async def test_missing_media_are_reported_and_failing_ones_retried_later(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    conn = await api_connection(ctx, workspace["id"])
    with BackgroundServer(_files()) as files:
        await post_signed(app_client, conn.id, _photo("p2", f"{files.url}/gone.png"))
        await post_signed(app_client, conn.id, _photo("p3", f"{files.url}/broken.png"))
        await Worker(ctx).drain()
    gone = await _inbound(ctx, "p2")
    assert gone.error_code == "media_unavailable"  # 404: permanent, the reference stays
    assert gone.content["url"].endswith("/gone.png")
    broken = await _inbound(ctx, "p3")
    assert broken.error_code is None and broken.content["url"].endswith("/broken.png")
    async with ctx.db.session() as session:
        queued = (await session.execute(select(MediaFetch))).scalars().all()
    assert [(q.message_id, q.attempts, q.last_error) for q in queued] == [
        (broken.id, 1, "http_503")
    ]


async def test_media_over_the_size_limit_are_refused(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    ctx.settings.max_media_bytes = 1000
    conn = await api_connection(ctx, workspace["id"])
    with BackgroundServer(_files()) as files:
        await post_signed(app_client, conn.id, _photo("p4", f"{files.url}/ok.png"))
        await Worker(ctx).drain()
    message = await _inbound(ctx, "p4")
    assert message.error_code == "media_unavailable"
    assert "limit" in (message.error_detail or "")


async def test_our_files_go_out_as_absolute_links_where_a_channel_cannot_take_uploads(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    from tests.helpers import SECRET

    from toonbank.simulator.api_channel import ApiReceiver

    receiver = ApiReceiver(secret=SECRET)
    with BackgroundServer(_files()) as files, BackgroundServer(receiver.app()) as provider:
        conn = await api_connection(ctx, workspace["id"], base_url=provider.url)
        await post_signed(app_client, conn.id, _photo("p5", f"{files.url}/ok.png"))
        await Worker(ctx).drain()
        local = (await _inbound(ctx, "p5")).content["url"]
        headers = {"authorization": f"Bearer {workspace['api_key']}"}
        [conversation] = (await app_client.get("/api/v1/conversations", headers=headers)).json()
        content = {"type": "media", "kind": "image", "url": local}
        await app_client.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"content": content},
            headers=headers,
        )
        await Worker(ctx).drain()
    [forwarded] = [d for d in receiver.deliveries if d.content.get("type") == "media"]
    assert forwarded.content["url"] == ctx.settings.public_url.rstrip("/") + local
