"""Conversation work and selling through the inbox API against a live server: labels, filters,
SLA in lists, teams and routing, CSAT asked and answered, the profile panel, product cards, the
cart, a payment link paid on the sandbox page, refunds by role — and that another workspace or a
weaker role can do none of it."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import timedelta
from typing import Any

import httpx
import websockets
from sqlalchemy import select, update
from tests.helpers import post_signed
from tests.inbox.helpers import World, login, make_agent

from toonbank.commerce.demo import seed_shop
from toonbank.context import Context
from toonbank.inbox import csat
from toonbank.kit.clock import now
from toonbank.models import Conversation, Message, Order, Workspace

INBOX = "/api/v1/inbox"


async def _customer_says(ctx: Context, world: World, cid: str, content: dict[str, Any]) -> None:
    async with ctx.db.session() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None and conversation.last_connection_id is not None
        connection_id = conversation.last_connection_id
    payload = {
        "messages": [
            {"id": f"m-{time.monotonic_ns()}", "from": "cust-1", "content": content},
        ]
    }
    async with httpx.AsyncClient(base_url=world.url, timeout=10) as client:
        response = await post_signed(client, connection_id, payload)
        assert response.status_code == 200, response.text


async def _eventually(probe: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


async def test_labels_filters_teams_csat_and_profile(ctx: Context, world: World) -> None:
    cid = world.conversation_id
    ann = await login(world.url, "acme", "ann@a.test")
    sue = await login(world.url, "acme", "sue@a.test")
    base = f"{INBOX}/conversations/{cid}"
    queue = (await ann.get(f"{INBOX}/conversations", params={"view": "queue"})).json()
    assert queue[0]["sla"]["kind"] == "first" and queue[0]["sla"]["state"] == "ok"
    assert queue[0]["labels"] == []
    assert (await ann.post(f"{base}/labels", json={"label": "vip"})).status_code == 403
    assert (await ann.post(f"{base}/take")).status_code == 200
    added = await ann.post(f"{base}/labels", json={"label": "VIP"})
    assert added.status_code == 201 and added.json() == {"labels": ["vip"]}
    await ann.post(f"{base}/labels", json={"label": "returns"})
    bad = await ann.post(f"{base}/labels", json={"label": "<script>"})
    assert bad.status_code == 422
    mine = await ann.get(f"{INBOX}/conversations", params={"view": "mine", "label": "vip"})
    assert [c["id"] for c in mine.json()] == [cid]
    assert mine.json()[0]["labels"] == ["returns", "vip"]
    none = await ann.get(f"{INBOX}/conversations", params={"view": "mine", "label": "other"})
    assert none.json() == []
    by_channel = await sue.get(
        f"{INBOX}/conversations", params={"view": "all", "channel": "api", "status": "assigned"}
    )
    assert [c["id"] for c in by_channel.json()] == [cid]
    by_other = await sue.get(f"{INBOX}/conversations", params={"view": "all", "channel": "sms"})
    assert by_other.json() == []
    assert (await ann.delete(f"{base}/labels/returns")).json() == {"labels": ["vip"]}
    assert (await sue.get(f"{INBOX}/labels")).json() == [{"label": "vip", "count": 1}]

    # Teams: supervisors create them and route conversations to them; agents cannot.
    team_body = {"name": "Stylists", "timezone": "Europe/Amsterdam", "members": []}
    assert (await ann.post(f"{INBOX}/teams", json=team_body)).status_code == 403
    ids = {a["email"]: a["id"] for a in (await sue.get(f"{INBOX}/agents")).json()}
    team_body["members"] = [ids["ann@a.test"]]
    team_body["hours"] = {"weekly": {"mon": ["09:00-17:00"]}}
    created = await sue.post(f"{INBOX}/teams", json=team_body)
    assert created.status_code == 201, created.text
    team = created.json()
    assert team["members"] == [ids["ann@a.test"]] and isinstance(team["open"], bool)
    broken = await sue.post(f"{INBOX}/teams", json={"name": "x", "hours": {"weekly": {"xx": []}}})
    assert broken.status_code == 422
    assert (await ann.post(f"{base}/routing", json={"team_id": team["id"]})).status_code == 403
    routed = await sue.post(f"{base}/routing", json={"team_id": team["id"], "priority": 3})
    assert routed.json()["team_id"] == team["id"] and routed.json()["priority"] == 3
    in_team = await ann.get(f"{INBOX}/conversations", params={"view": "team"})
    assert [c["id"] for c in in_team.json()] == [cid] and in_team.json()[0]["team_id"]

    # CSAT: the question in the customer's language, the answer collected and shown.
    asked = await ann.post(f"{base}/csat")
    assert asked.status_code == 202, asked.text
    async with ctx.db.session() as session:
        question = (
            (
                await session.execute(
                    select(Message)
                    .where(Message.conversation_id == cid, Message.sender == "agent")
                    .order_by(Message.id.desc())
                )
            )
            .scalars()
            .first()
        )
    assert question is not None
    expected = csat.QUESTIONS[csat.language_of(await _conversation(ctx, cid), None)]
    assert expected in str(question.content)
    await _customer_says(
        ctx, world, cid, {"type": "reply", "payload": f"csat:{cid}:4", "title": "4 ★★★★"}
    )

    async def answered() -> Any:
        await csat.collect(ctx)
        profile = (await ann.get(f"{base}/profile")).json()
        return profile if profile["csat"] and profile["csat"]["score"] else None

    profile = await _eventually(answered)
    assert profile is not None and profile["csat"]["score"] == 4
    assert profile["journey_stage"] == "browsing" and profile["orders"] == []
    assert profile["team_id"] == team["id"]
    for client in (ann, sue):
        await client.aclose()


async def _conversation(ctx: Context, cid: str) -> Conversation:
    async with ctx.db.session() as session:
        row = await session.get(Conversation, cid)
    assert row is not None
    return row


async def _pay_on_sandbox(url: str, payment_url: str) -> None:
    path = httpx.URL(payment_url).path
    async with httpx.AsyncClient(base_url=url, timeout=10) as customer:
        page = await customer.get(path)
        [nonce] = re.findall(r'name=csrf value="([^"]+)"', page.text)
        paid = await customer.post(path, data={"action": "pay", "csrf": nonce})
        assert paid.status_code == 303


async def test_selling_from_the_inbox(ctx: Context, world: World) -> None:
    ws = world.ws["id"]
    await seed_shop(ctx.db, ws, products=6)
    await make_agent(ctx, ws, "olga@a.test", role="owner", availability="offline")
    cid = world.conversation_id
    base = f"{INBOX}/conversations/{cid}"
    ann = await login(world.url, "acme", "ann@a.test")
    sue = await login(world.url, "acme", "sue@a.test")
    olga = await login(world.url, "acme", "olga@a.test")
    eve = await login(world.url, "rival", "eve@r.test")
    found = (await ann.get(f"{base}/catalog", params={"q": ""})).json()
    assert found["total"] >= 2
    [first, second] = found["hits"][:2]
    assert (
        await ann.post(f"{base}/products", json={"product_ids": [first["id"]]})
    ).status_code == 403  # take it first
    assert (await ann.post(f"{base}/take")).status_code == 200
    sent = await ann.post(
        f"{base}/products", json={"product_ids": [first["id"], second["id"]], "text": "Ideas"}
    )
    assert sent.status_code == 202, sent.text
    assert str(first["title"]) in str(sent.json())
    unknown = await ann.post(f"{base}/products", json={"product_ids": ["nope"]})
    assert unknown.status_code == 404
    variant = next(v for h in found["hits"] for v in h["variants"] if v["in_stock"])
    cart = await ann.post(f"{base}/cart/lines", json={"variant_id": variant["id"], "quantity": 2})
    assert cart.status_code == 200, cart.text
    assert [(x["variant_id"], x["quantity"]) for x in cart.json()["lines"]] == [(variant["id"], 2)]
    methods = cart.json()["shipping_methods"]
    pickup = next(m for m in methods if not m["countries"] or "NL" in m["countries"])
    shipped = await ann.post(
        f"{base}/cart", json={"shipping_method": pickup["code"], "country": "NL"}
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["shipping_method"] == pickup["code"]
    link = await ann.post(f"{base}/payment-link", json={})
    assert link.status_code == 201, link.text
    order, payment = link.json()["order"], link.json()["payment"]
    assert order["status"] == "pending" and payment["status"] == "open"
    async with ctx.db.session() as session:
        links = [
            m.content
            for m in (
                await session.execute(select(Message).where(Message.conversation_id == cid))
            ).scalars()
            if m.content.get("type") == "payment_link"
        ]
    assert [x["url"] for x in links] == [payment["url"]]
    await _pay_on_sandbox(world.url, payment["url"])

    async def paid() -> Any:
        profile = (await ann.get(f"{base}/profile")).json()
        return profile if profile["orders"][0]["status"] == "paid" else None

    profile = await _eventually(paid)
    assert profile is not None and profile["orders"][0]["payments"][0]["status"] == "paid"
    assert profile["journey_stage"] == "customer"
    # Refunds: owner and admin only.
    refund_path = f"{INBOX}/orders/{order['id']}/refund"
    assert (await ann.post(refund_path, json={})).status_code == 403
    assert (await sue.post(refund_path, json={})).status_code == 403
    assert (await eve.post(refund_path, json={})).status_code == 404  # another workspace
    refunded = await olga.post(refund_path, json={})
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["order"]["status"] == "refunded"
    async with ctx.db.session() as session:
        row = await session.get(Order, order["id"])
        assert row is not None and row.status == "refunded"
    for client in (ann, sue, olga, eve):
        await client.aclose()


async def test_another_workspace_and_weaker_roles_reach_none_of_it(
    ctx: Context, world: World
) -> None:
    cid = world.conversation_id
    base = f"{INBOX}/conversations/{cid}"
    eve = await login(world.url, "rival", "eve@r.test")  # owner, of another workspace
    ann = await login(world.url, "acme", "ann@a.test")
    bob = await login(world.url, "acme", "bob@a.test")
    anonymous = httpx.AsyncClient(base_url=world.url, timeout=10)
    reads = [f"{base}/profile", f"{base}/catalog", f"{base}/cart"]
    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", f"{base}/labels", {"label": "x"}),
        ("DELETE", f"{base}/labels/x", None),
        ("POST", f"{base}/csat", None),
        ("POST", f"{base}/routing", {"priority": 1}),
        ("POST", f"{base}/products", {"product_ids": ["x"]}),
        ("POST", f"{base}/cart/lines", {"variant_id": "x", "quantity": 1}),
        ("POST", f"{base}/cart", {"country": "NL"}),
        ("POST", f"{base}/payment-link", {}),
    ]
    for path in reads:
        assert (await eve.get(path)).status_code == 404, path
        assert (await anonymous.get(path)).status_code == 401, path
    for method, path, body in writes:
        response = await eve.request(method, path, json=body)
        assert response.status_code == 404, (path, response.status_code)
        assert (await anonymous.request(method, path, json=body)).status_code == 401
    assert (await eve.get(f"{INBOX}/labels")).json() == []
    assert (await eve.get(f"{INBOX}/teams")).json() == []
    listed = await eve.get(f"{INBOX}/conversations", params={"view": "team"})
    assert listed.json() == []
    # Once bob serves it, ann (a plain agent) can neither read nor act on it.
    assert (await bob.post(f"{base}/take")).status_code == 200
    for path in reads:
        assert (await ann.get(path)).status_code == 404, path
    for method, path, body in writes:
        assert (await ann.request(method, path, json=body)).status_code in (403, 404), path
    # A cookie write from another site is refused.
    forged = await bob.post(
        f"{base}/labels", json={"label": "x"}, headers={"origin": "http://evil.test"}
    )
    assert forged.status_code == 403
    assert (await bob.get(f"{INBOX}/labels")).json() == []
    for client in (eve, ann, bob, anonymous):
        await client.aclose()


def _ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/inbox/ws?last_event_id=0"


def _cookie(client: httpx.AsyncClient) -> dict[str, str]:
    return {"cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}


async def _until(ws: Any, done: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frames.append(json.loads(await ws.recv()))
            if done(frames[-1]):
                return frames


def _event(kind: str) -> Any:
    return lambda f: f["type"] == "event" and f["event"]["type"] == kind


async def test_live_sla_labels_and_cart_events_stay_where_they_belong(
    ctx: Context, world: World
) -> None:
    cid = world.conversation_id
    ann = await login(world.url, "acme", "ann@a.test")
    bob = await login(world.url, "acme", "bob@a.test")
    eve = await login(world.url, "rival", "eve@r.test")
    async with ctx.db.uow() as uow:
        workspace = await uow.session.get(Workspace, world.ws["id"])
        assert workspace is not None
        workspace.settings = {"inbox": {"first_response_seconds": 100, "warn_ratio": 0.5}}
        await uow.session.execute(
            update(Conversation)
            .where(Conversation.id == cid)
            .values(queued_at=now() - timedelta(seconds=70))
        )
    async with (
        websockets.connect(_ws_url(world.url), additional_headers=_cookie(ann)) as ws_ann,
        websockets.connect(_ws_url(world.url), additional_headers=_cookie(bob)) as ws_bob,
        websockets.connect(_ws_url(world.url), additional_headers=_cookie(eve)) as ws_eve,
    ):
        for ws in (ws_bob, ws_eve):
            await _until(ws, lambda f: f["type"] == "ready")
        # The server's worker runs the SLA check every few seconds: live or on replay.
        warned = await _until(ws_ann, _event("sla_warning"), timeout=30)
        assert warned[-1]["event"]["conversation_id"] == cid
        assert warned[-1]["event"]["sla"]["state"] == "warning"
        assert (await ann.post(f"{INBOX}/conversations/{cid}/take")).status_code == 200
        await ann.post(f"{INBOX}/conversations/{cid}/labels", json={"label": "vip"})
        labelled = await _until(ws_ann, _event("labels"))
        assert labelled[-1]["event"]["labels"] == ["vip"]
        # Bob (plain agent) hears only that it left his view; eve hears nothing at all.
        gone = await _until(ws_bob, _event("conversation_gone"))
        await ws_bob.send(json.dumps({"type": "ping"}))
        after = await _until(ws_bob, lambda f: f["type"] == "pong")
        bob_events = [f["event"]["type"] for f in gone + after if f["type"] == "event"]
        assert "labels" not in bob_events and "assignment" not in bob_events
        await ws_eve.send(json.dumps({"type": "ping"}))
        quiet = await _until(ws_eve, lambda f: f["type"] == "pong")
        assert [f for f in quiet if f["type"] in ("event", "presence")] == []
    for client in (ann, bob, eve):
        await client.aclose()
