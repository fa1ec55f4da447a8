"""Scale-out: two API processes' worth of apps share events through Redis."""

from __future__ import annotations

import json
import uuid

import httpx
import websockets
from tests.webchat.test_websocket import Visitor, _frames_until, _messages, _webchat_id

from toonbank.app import create_app
from toonbank.config import Settings
from toonbank.context import Context
from toonbank.simulator.api_channel import BackgroundServer

REDIS_URL = "redis://127.0.0.1:6379/14"


async def test_message_sent_through_one_node_reaches_a_visitor_on_another(
    ctx: Context, workspace: dict[str, str], settings: Settings
) -> None:
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    node_a = create_app(shared.model_copy(update={"embedded_worker": False}))
    node_b = create_app(shared.model_copy(update={"embedded_worker": True}))
    with BackgroundServer(node_a) as a, BackgroundServer(node_b) as b:
        visitor = Visitor(a.url, await _webchat_id(ctx, workspace["id"]))
        await visitor.session()
        async with websockets.connect(visitor.ws_url()) as ws:
            await ws.recv()  # ready
            # The visitor writes on node A; node B's worker answers; A relays it live.
            await ws.send(
                json.dumps(
                    {
                        "type": "message",
                        "client_id": str(uuid.uuid4()),
                        "content": {"type": "text", "text": "hi"},
                    }
                )
            )
            frames = await _frames_until(
                ws, lambda _f, fs: sum(m["direction"] == "out" for m in _messages(fs)) >= 2
            )
            assert _messages(frames)[1]["content"]["text"].startswith("Hi!")
            # An agent message sent through node B's API appears on node A's socket.
            headers = {"authorization": f"Bearer {workspace['api_key']}"}
            async with httpx.AsyncClient(base_url=b.url) as client:
                [conversation] = (await client.get("/api/v1/conversations", headers=headers)).json()
                sent = await client.post(
                    f"/api/v1/conversations/{conversation['id']}/messages",
                    json={"content": {"type": "text", "text": "A stylist here!"}},
                    headers=headers,
                )
                assert sent.status_code == 202
            frames = await _frames_until(
                ws,
                lambda _f, fs: any(
                    m["content"].get("text") == "A stylist here!" for m in _messages(fs)
                ),
            )
            assert _messages(frames)[-1]["sender"] == "agent"
