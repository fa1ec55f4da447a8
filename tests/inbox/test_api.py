"""The agent inbox API and WebSocket against a live server: the agent journey, and what other
workspaces and weaker roles can not see or do (every endpoint, and the WebSocket)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from tests.inbox.helpers import World, customer_conversation, login

from toonbank.context import Context
from toonbank.models import Conversation, InboxNote, Message


async def test_agent_journey(ctx: Context, world: World) -> None:
    ann = await login(world.url, "acme", "ann@a.test")
    cid = world.conversation_id
    queue = (await ann.get("/api/v1/inbox/conversations", params={"view": "queue"})).json()
    assert [c["id"] for c in queue] == [cid] and queue[0]["channel"] == "api"
    assert (await ann.get("/api/v1/inbox/conversations")).json() == []  # mine: none yet
    blocked = await ann.post(f"/api/v1/inbox/conversations/{cid}/messages", json={"text": "hi"})
    assert blocked.status_code == 403  # take it first
    taken = await ann.post(f"/api/v1/inbox/conversations/{cid}/take")
    assert taken.status_code == 200 and taken.json()["status"] == "assigned"
    mine = (await ann.get("/api/v1/inbox/conversations", params={"view": "mine"})).json()
    assert [c["id"] for c in mine] == [cid]
    detail = (await ann.get(f"/api/v1/inbox/conversations/{cid}")).json()
    assert detail["window"]["open"] is True and detail["can_act"] is True
    texts = [m["content"].get("text") for m in detail["history"] if m["direction"] == "in"]
    assert texts == ["I need a stylist"]
    sent = await ann.post(
        f"/api/v1/inbox/conversations/{cid}/messages", json={"text": "<b>Hello</b> Ann"}
    )
    assert sent.status_code == 202, sent.text
    [reply] = sent.json()
    me = (await ann.get("/api/v1/inbox/me")).json()
    async with ctx.db.session() as session:
        stored = await session.get(Message, reply["id"])
    assert stored is not None
    assert (stored.sender, stored.agent_id, stored.content["text"]) == (
        "agent",
        me["id"],
        "<b>Hello</b> Ann",
    )
    note = await ann.post(f"/api/v1/inbox/conversations/{cid}/notes", json={"body": "VIP"})
    assert note.status_code == 201
    back = await ann.post(f"/api/v1/inbox/conversations/{cid}/hand-back")
    assert back.json()["status"] == "bot"
    bob = await login(world.url, "acme", "bob@a.test")
    assert (await bob.post(f"/api/v1/inbox/conversations/{cid}/take")).status_code == 200
    closed = await bob.post(f"/api/v1/inbox/conversations/{cid}/close", json={"reason": "solved"})
    assert closed.json()["status"] == "closed" and closed.json()["close_reason"] == "solved"
    async with ctx.db.session() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None and conversation.close_reason == "solved"
    for client in (ann, bob):
        await client.aclose()


async def test_roles_and_workspaces_are_enforced(ctx: Context, world: World) -> None:
    cid = world.conversation_id
    eve = await login(world.url, "rival", "eve@r.test")  # owner, but of another workspace
    ann = await login(world.url, "acme", "ann@a.test")
    bob = await login(world.url, "acme", "bob@a.test")
    sue = await login(world.url, "acme", "sue@a.test")
    anonymous = httpx.AsyncClient(base_url=world.url, timeout=10)
    ids = {a["email"]: a["id"] for a in (await sue.get("/api/v1/inbox/agents")).json()}
    assert set(ids) == {"ann@a.test", "bob@a.test", "sue@a.test"}  # not eve
    base = f"/api/v1/inbox/conversations/{cid}"
    writes: list[tuple[str, dict[str, Any] | None]] = [
        (f"{base}/take", None),
        (f"{base}/messages", {"text": "x"}),
        (f"{base}/notes", {"body": "x"}),
        (f"{base}/hand-back", None),
        (f"{base}/release", None),
        (f"{base}/close", {"reason": "x"}),
        (f"{base}/assign", {"agent_id": ids["ann@a.test"]}),
    ]
    for path, body in writes:  # another workspace: nothing is there
        response = await eve.post(path, json=body)
        assert response.status_code == 404, (path, response.status_code)
        assert (await anonymous.post(path, json=body)).status_code == 401
    assert (await eve.get(base)).status_code == 404
    for view in ("mine", "queue", "all"):
        listed = (await eve.get("/api/v1/inbox/conversations", params={"view": view})).json()
        assert listed == []
    assert (await eve.post(f"/api/v1/inbox/agents/{ids['ann@a.test']}", json={})).status_code == 404
    # Eve cannot assign her conversation to an agent of acme either.
    theirs = await customer_conversation(ctx, world.url, world.other, "c-9", "hej")
    foreign = await eve.post(
        f"/api/v1/inbox/conversations/{theirs}/assign", json={"agent_id": ids["ann@a.test"]}
    )
    assert foreign.status_code == 404
    # Role: an agent cannot list everything, assign, or change routing profiles.
    assert (await ann.get("/api/v1/inbox/conversations", params={"view": "all"})).status_code == 403
    assert (
        await ann.post(f"{base}/assign", json={"agent_id": ids["ann@a.test"]})
    ).status_code == 403
    assert (
        await ann.post(f"/api/v1/inbox/agents/{ids['bob@a.test']}", json={"capacity": 50})
    ).status_code == 403
    # Once bob has it, ann can neither see nor act on it; the supervisor can reassign it.
    assert (await bob.post(f"{base}/take")).status_code == 200
    assert (await ann.get(base)).status_code == 404
    for path, body in writes[:-1]:  # (assign: 403 above, her role cannot)
        assert (await ann.post(path, json=body)).status_code == 404, path
    moved = await sue.post(f"{base}/assign", json={"agent_id": ids["ann@a.test"]})
    assert moved.status_code == 200 and moved.json()["assigned_agent_id"] == ids["ann@a.test"]
    assert (await bob.post(f"{base}/notes", json={"body": "x"})).status_code == 404
    # Capacity applies to supervisors' assignments too.
    assert (
        await sue.post(f"/api/v1/inbox/agents/{ids['bob@a.test']}", json={"capacity": 0})
    ).status_code == 200
    full = await sue.post(f"{base}/assign", json={"agent_id": ids["bob@a.test"]})
    assert full.status_code == 409 and full.json()["error"] == "capacity_full"
    # Cross-site writes with the cookie are refused.
    forged = await ann.post(
        f"{base}/notes", json={"body": "x"}, headers={"origin": "http://evil.test"}
    )
    assert forged.status_code == 403
    async with ctx.db.session() as session:
        from sqlalchemy import func, select

        assert await session.scalar(select(func.count()).select_from(InboxNote)) == 0
    for client in (eve, ann, bob, sue, anonymous):
        await client.aclose()


def _ws_url(url: str, last_event_id: int = 0) -> str:
    return url.replace("http://", "ws://") + f"/inbox/ws?last_event_id={last_event_id}"


async def _frames(ws: Any, until: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            frames.append(frame)
            if until(frame):
                return frames


async def test_websocket_events_presence_and_isolation(ctx: Context, world: World) -> None:
    cid = world.conversation_id
    ann = await login(world.url, "acme", "ann@a.test")
    bob = await login(world.url, "acme", "bob@a.test")
    eve = await login(world.url, "rival", "eve@r.test")

    def cookie(client: httpx.AsyncClient) -> dict[str, str]:
        return {"cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}

    async with (
        websockets.connect(_ws_url(world.url), additional_headers=cookie(ann)) as ws_ann,
        websockets.connect(_ws_url(world.url), additional_headers=cookie(bob)) as ws_bob,
        websockets.connect(_ws_url(world.url), additional_headers=cookie(eve)) as ws_eve,
    ):
        replay = await _frames(ws_ann, lambda f: f["type"] == "ready")
        types = [f["event"]["type"] for f in replay if f["type"] == "event"]
        assert "message" in types and "conversation_status" in types
        eve_replay = await _frames(ws_eve, lambda f: f["type"] == "ready")
        assert all(
            f["event"].get("conversation_id") != cid for f in eve_replay if f["type"] == "event"
        )
        await _frames(ws_bob, lambda f: f["type"] == "ready")
        await ws_ann.send(
            json.dumps({"type": "presence", "conversation_id": cid, "state": "viewing"})
        )
        seen = await _frames(ws_bob, lambda f: f["type"] == "presence")
        assert seen[-1]["display_name"] == "ann" and seen[-1]["state"] == "viewing"
        await ws_eve.send(
            json.dumps({"type": "presence", "conversation_id": cid, "state": "viewing"})
        )
        refused = await _frames(ws_eve, lambda f: f["type"] == "error")
        assert refused[-1]["code"] == "not_found"
        assert (await ann.post(f"/api/v1/inbox/conversations/{cid}/take")).status_code == 200
        live = await _frames(
            ws_bob, lambda f: f["type"] == "event" and f["event"]["type"] == "conversation_gone"
        )
        assert live[-1]["event"] == {
            "id": live[-1]["event"]["id"],
            "type": "conversation_gone",
            "conversation_id": cid,
        }
        mine_live = await _frames(
            ws_ann, lambda f: f["type"] == "event" and f["event"]["type"] == "assignment"
        )
        assert mine_live[-1]["event"]["conversation_id"] == cid
        await ann.post(f"/api/v1/inbox/conversations/{cid}/notes", json={"body": "secret"})
        mine = await _frames(
            ws_ann, lambda f: f["type"] == "event" and f["event"]["type"] == "note"
        )
        last_id = mine[-1]["event"]["id"]
        # Eve's socket saw none of it.
        await ws_eve.send(json.dumps({"type": "ping"}))
        quiet = await _frames(ws_eve, lambda f: f["type"] == "pong")
        assert [f for f in quiet if f["type"] in ("event", "presence")] == []
    # Bob (plain agent) no longer sees ann's conversation on replay, even from the start.
    async with websockets.connect(_ws_url(world.url), additional_headers=cookie(bob)) as ws_bob2:
        frames = await _frames(ws_bob2, lambda f: f["type"] == "ready")
        about = [f["event"] for f in frames if f["type"] == "event"]
        about = [e for e in about if e.get("conversation_id") == cid]
        assert about and {e["type"] for e in about} == {"conversation_gone"}
        assert all(set(e) == {"id", "type", "conversation_id"} for e in about)
    # Resume: ann reconnects after the note and gets nothing older.
    async with websockets.connect(
        _ws_url(world.url, last_id), additional_headers=cookie(ann)
    ) as ws:
        frames = await _frames(ws, lambda f: f["type"] == "ready")
        assert [f for f in frames if f["type"] == "event"] == [] and frames[-1][
            "last_event_id"
        ] >= last_id
    # No cookie, or a foreign Origin: refused.
    for headers in ({}, {**cookie(ann), "origin": "http://evil.test"}):
        with pytest.raises(websockets.exceptions.WebSocketException):
            async with websockets.connect(_ws_url(world.url), additional_headers=headers) as ws:
                await ws.recv()
    for client in (ann, bob, eve):
        await client.aclose()
