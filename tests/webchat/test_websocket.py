"""Web chat over a real server: session, WebSocket replay/resume, dedupe, uploads."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select

from toonbank.app import create_app
from toonbank.channels.connections import find_connection
from toonbank.config import Settings
from toonbank.context import Context
from toonbank.models import Message
from toonbank.simulator.api_channel import BackgroundServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    app = create_app(settings.model_copy(update={"embedded_worker": True}))
    with BackgroundServer(app) as server:
        yield server.url


async def _webchat_id(ctx: Context, workspace_id: str) -> str:
    async with ctx.db.session() as session:
        row = await find_connection(session, workspace_id, "webchat")
    assert row is not None
    return row.id


class Visitor:
    def __init__(self, base: str, connection_id: str) -> None:
        self.base = base
        self.connection_id = connection_id
        self.token = ""

    async def session(self, token: str | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.base) as client:
            response = await client.post(
                f"/webchat/{self.connection_id}/session", json={"token": token}
            )
        response.raise_for_status()
        self.token = response.json()["token"]
        return dict(response.json())

    def ws_url(self, last_event_id: int = 0, token: str | None = None) -> str:
        base = self.base.replace("http://", "ws://")
        return (
            f"{base}/webchat/{self.connection_id}/ws?token={token or self.token}"
            f"&last_event_id={last_event_id}"
        )


async def _frames_until(ws: Any, predicate: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if predicate(frame, frames):
                return frames


def _messages(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        f["event"]["message"]
        for f in frames
        if f["type"] == "event" and f["event"]["type"] == "message"
    ]


def _bot_count(n: int) -> Any:
    return lambda _f, frames: sum(m["direction"] == "out" for m in _messages(frames)) >= n


async def test_chat_resume_and_resend_without_loss_or_duplicates(
    ctx: Context, workspace: dict[str, str], served: str
) -> None:
    visitor = Visitor(served, await _webchat_id(ctx, workspace["id"]))
    await visitor.session()
    client_id = str(uuid.uuid4())
    async with websockets.connect(visitor.ws_url()) as ws:
        ready = json.loads(await ws.recv())
        assert ready == {"type": "ready", "last_event_id": 0}
        await ws.send(
            json.dumps(
                {
                    "type": "message",
                    "client_id": client_id,
                    "content": {"type": "text", "text": "hi"},
                }
            )
        )
        frames = await _frames_until(ws, _bot_count(2))
    assert {"type": "ack", "client_id": client_id} in frames
    messages = _messages(frames)
    assert messages[0]["direction"] == "in" and messages[0]["client_id"] == client_id
    assert messages[2]["content"]["type"] == "quick_replies"
    last_seen = max(f["event"]["id"] for f in frames if f["type"] == "event")

    # Reconnect (same visitor): re-send the same message (lost ack) and choose a button.
    async with websockets.connect(visitor.ws_url(last_event_id=last_seen)) as ws:
        before_ready = await _frames_until(ws, lambda f, _fs: f["type"] == "ready")
        # Only what the client has not seen yet (e.g. late delivery statuses) is replayed.
        assert all(f["event"]["id"] > last_seen for f in before_ready if f["type"] == "event")
        await ws.send(
            json.dumps(
                {
                    "type": "message",
                    "client_id": client_id,
                    "content": {"type": "text", "text": "hi"},
                }
            )
        )
        await ws.send(
            json.dumps(
                {
                    "type": "message",
                    "client_id": str(uuid.uuid4()),
                    "content": {"type": "reply", "payload": "menu:order", "title": "Order status"},
                }
            )
        )
        frames = await _frames_until(
            ws,
            lambda _f, fs: any(
                m["content"].get("text") == "You chose: Order status." for m in _messages(fs)
            ),
        )
    event_ids = [f["event"]["id"] for f in frames if f["type"] == "event"]
    assert min(event_ids) > last_seen, "resume must not replay what the client has"
    assert len(event_ids) == len(set(event_ids))
    async with ctx.db.session() as session:
        inbound = list(
            (
                await session.execute(
                    select(Message.provider_message_id).where(Message.direction == "in")
                )
            ).scalars()
        )
    assert inbound.count(client_id) == 1
    assert len(inbound) == 2

    # A full reload (last_event_id=0) replays the whole history in order, once.
    async with websockets.connect(visitor.ws_url()) as ws:
        frames = await _frames_until(ws, lambda f, _fs: f["type"] == "ready")
    history = _messages(frames)
    assert [m["direction"] for m in history][:3] == ["in", "out", "out"]
    ids = [m["id"] for m in history]
    assert ids == sorted(ids) and len(ids) == len(set(ids))


async def test_session_token_is_kept_and_forgeries_refused(
    ctx: Context, workspace: dict[str, str], served: str
) -> None:
    visitor = Visitor(served, await _webchat_id(ctx, workspace["id"]))
    first = await visitor.session()
    again = await visitor.session(first["token"])
    assert again == first
    forged = await visitor.session(first["token"][:-2] + "xx")
    assert forged["visitor_id"] != first["visitor_id"]
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(visitor.ws_url(token="garbage")) as ws:
            await ws.recv()


async def test_invalid_frames_get_errors_not_storage(
    ctx: Context, workspace: dict[str, str], served: str
) -> None:
    visitor = Visitor(served, await _webchat_id(ctx, workspace["id"]))
    await visitor.session()
    async with websockets.connect(visitor.ws_url()) as ws:
        await ws.recv()  # ready
        await ws.send("not json")
        assert json.loads(await ws.recv())["code"] == "invalid_json"
        await ws.send(json.dumps({"type": "message", "client_id": "short", "content": {}}))
        assert json.loads(await ws.recv())["code"] == "invalid_frame"
        bad_type = {
            "type": "message",
            "client_id": str(uuid.uuid4()),
            "content": {
                "type": "payment_link",
                "url": "https://x.test",
                "amount": 1,
                "currency": "EUR",
            },
        }
        await ws.send(json.dumps(bad_type))
        assert json.loads(await ws.recv())["code"] == "invalid_content"
        foreign_media = {
            "type": "message",
            "client_id": str(uuid.uuid4()),
            "content": {"type": "media", "kind": "image", "url": "https://evil.test/x.png"},
        }
        await ws.send(json.dumps(foreign_media))
        assert json.loads(await ws.recv())["code"] == "invalid_content"
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv()) == {"type": "pong"}
    async with ctx.db.session() as session:
        assert (await session.execute(select(Message))).first() is None


async def test_image_upload(ctx: Context, workspace: dict[str, str], served: str) -> None:
    visitor = Visitor(served, await _webchat_id(ctx, workspace["id"]))
    await visitor.session()
    auth = {"authorization": f"Bearer {visitor.token}"}
    url = f"/webchat/{visitor.connection_id}/upload"
    async with httpx.AsyncClient(base_url=served) as client:
        ok = await client.post(url, files={"file": ("a.png", PNG, "image/png")}, headers=auth)
        assert ok.status_code == 200
        body = ok.json()
        assert body["kind"] == "image" and body["mime_type"] == "image/png"
        fetched = await client.get(body["url"])
        assert fetched.content == PNG
        assert fetched.headers["content-type"] == "image/png"
        assert fetched.headers["x-content-type-options"] == "nosniff"

        html = await client.post(
            url, files={"file": ("a.png", b"<script>alert(1)</script>", "image/png")}, headers=auth
        )
        assert html.status_code == 415
        anonymous = await client.post(url, files={"file": ("a.png", PNG, "image/png")})
        assert anonymous.status_code == 401
        huge = PNG + b"\x00" * 5_242_900  # over the 5 MiB upload limit
        too_big = await client.post(url, files={"file": ("a.png", huge, "image/png")}, headers=auth)
        assert too_big.status_code == 413


async def test_typing_indicator_reaches_the_visitor(
    ctx: Context, workspace: dict[str, str], served: str
) -> None:
    visitor = Visitor(served, await _webchat_id(ctx, workspace["id"]))
    await visitor.session()
    headers = {"authorization": f"Bearer {workspace['api_key']}"}
    async with websockets.connect(visitor.ws_url()) as ws:
        await ws.recv()  # ready
        await ws.send(
            json.dumps(
                {
                    "type": "message",
                    "client_id": str(uuid.uuid4()),
                    "content": {"type": "text", "text": "yo"},
                }
            )
        )
        await _frames_until(ws, _bot_count(1))
        async with httpx.AsyncClient(base_url=served) as client:
            [conversation] = (await client.get("/api/v1/conversations", headers=headers)).json()
            response = await client.post(
                f"/api/v1/conversations/{conversation['id']}/typing",
                json={"state": "on"},
                headers=headers,
            )
            assert response.status_code == 204
        frames = await _frames_until(ws, lambda f, _fs: f["type"] == "typing")
    assert frames[-1] == {"type": "typing", "sender": "agent", "state": "on"}


async def test_public_widget_endpoints_are_rate_limited(
    ctx: Context, workspace: dict[str, str], settings: Settings
) -> None:
    app = create_app(settings.model_copy(update={"widget_rate_limit": "3/minute"}), ctx=ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            url = f"/webchat/{await _webchat_id(ctx, workspace['id'])}/session"
            codes = [(await client.post(url, json={})).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
