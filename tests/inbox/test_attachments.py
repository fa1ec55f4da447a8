"""Attachments from the inbox composer against a live server: upload (types sniffed, size
limited, role and workspace checked), the agent-scoped read, refusing another workspace's file,
and a media reply that reaches a web-chat customer."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import websockets
from sqlalchemy import select
from tests.helpers import count
from tests.inbox.helpers import World, customer_conversation, login

from toonbank.channels.connections import find_connection
from toonbank.context import Context
from toonbank.models import MediaObject, Message

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def _file(name: str, data: bytes, declared: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, data, declared)}


async def test_upload_types_limits_roles_and_workspaces(ctx: Context, world: World) -> None:
    cid = world.conversation_id
    upload = f"/api/v1/inbox/conversations/{cid}/upload"
    ann = await login(world.url, "acme", "ann@a.test")
    eve = await login(world.url, "rival", "eve@r.test")  # owner of another workspace
    anonymous = httpx.AsyncClient(base_url=world.url, timeout=10)
    # Role: an agent uploads only where she may reply (after taking the conversation).
    early = await ann.post(upload, files=_file("a.png", PNG, "image/png"))
    assert early.status_code == 403
    assert (await ann.post(f"/api/v1/inbox/conversations/{cid}/take")).status_code == 200
    # The type comes from the bytes: a PNG declared as PDF is an image, and the other way round.
    image = await ann.post(upload, files=_file("../../etc/swatch.png", PNG, "application/pdf"))
    assert image.status_code == 201, image.text
    img = image.json()
    assert (img["kind"], img["mime_type"], img["filename"], img["size"]) == (
        "image",
        "image/png",
        "swatch.png",
        len(PNG),
    )
    assert img["url"] == f"/media/{img['id']}"
    # A name never changes the type: it gets the extension of what the bytes are.
    document = await ann.post(upload, files=_file("menu.html", PDF, "text/html"))
    assert document.status_code == 201
    doc = document.json()
    assert (doc["kind"], doc["mime_type"], doc["filename"]) == (
        "file",
        "application/pdf",
        "menu.html.pdf",
    )
    # Anything else, anything too big, anonymous or cross-site: refused, nothing stored.
    html = await ann.post(upload, files=_file("a.png", b"<script>alert(1)</script>", "image/png"))
    assert html.status_code == 415 and html.json()["error"] == "unsupported_media"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert (await ann.post(upload, files=_file("a.svg", svg, "image/svg+xml"))).status_code == 415
    huge = PNG + b"\x00" * 5_242_900  # over the 5 MiB limit
    too_big = await ann.post(upload, files=_file("a.png", huge, "image/png"))
    assert too_big.status_code == 413
    assert (await anonymous.post(upload, files=_file("a.png", PNG, "image/png"))).status_code == 401
    forged = await ann.post(
        upload, files=_file("a.png", PNG, "image/png"), headers={"origin": "http://evil.test"}
    )
    assert forged.status_code == 403
    assert (await eve.post(upload, files=_file("a.png", PNG, "image/png"))).status_code == 404
    assert await count(ctx, MediaObject) == 2
    # Reading: the agent's workspace only.
    read = await ann.get(f"/api/v1/inbox/media/{img['id']}")
    assert read.status_code == 200 and read.content == PNG
    assert read.headers["content-type"] == "image/png"
    assert read.headers["x-content-type-options"] == "nosniff"
    pdf = await ann.get(f"/api/v1/inbox/media/{doc['id']}")
    assert pdf.content == PDF
    assert pdf.headers["content-disposition"] == "attachment; filename*=utf-8''menu.html.pdf"
    assert (await eve.get(f"/api/v1/inbox/media/{img['id']}")).status_code == 404
    assert (await anonymous.get(f"/api/v1/inbox/media/{img['id']}")).status_code == 401
    # Using: eve can not send acme's file in her own conversation, even knowing its id.
    theirs = await customer_conversation(ctx, world.url, world.other, "c-9", "hej")
    assert (await eve.post(f"/api/v1/inbox/conversations/{theirs}/take")).status_code == 200
    stolen = await eve.post(
        f"/api/v1/inbox/conversations/{theirs}/messages",
        json={"content": {"type": "media", "kind": "image", "url": img["url"]}},
    )
    assert stolen.status_code == 404
    rest = await anonymous.post(  # nor can the rival workspace's API key
        f"/api/v1/conversations/{theirs}/messages",
        json={"content": {"type": "media", "kind": "image", "url": img["url"]}},
        headers={"authorization": f"Bearer {world.other['api_key']}"},
    )
    assert rest.status_code == 404
    # Links that are neither uploads nor http(s) are refused.
    script = await ann.post(
        f"/api/v1/inbox/conversations/{cid}/messages",
        json={"content": {"type": "media", "kind": "file", "url": "javascript:alert(1)"}},
    )
    assert script.status_code == 422
    async with ctx.db.session() as session:
        media = (await session.execute(select(Message.id).where(Message.sender == "agent"))).all()
    assert media == []  # nothing was queued by any of the refused sends
    for client in (ann, eve, anonymous):
        await client.aclose()


async def _frames_until(ws: Any, predicate: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frames.append(json.loads(await ws.recv()))
            if predicate(frames[-1]):
                return frames


def _message(frame: dict[str, Any]) -> dict[str, Any] | None:
    if frame.get("type") == "event" and frame["event"]["type"] == "message":
        return dict(frame["event"]["message"])
    return None


async def test_media_reply_reaches_the_web_chat_customer(ctx: Context, world: World) -> None:
    async with ctx.db.session() as session:
        webchat = await find_connection(session, world.ws["id"], "webchat")
    assert webchat is not None
    visitor = httpx.AsyncClient(base_url=world.url, timeout=10)
    token = (await visitor.post(f"/webchat/{webchat.id}/session", json={})).json()["token"]
    ws_url = world.url.replace("http://", "ws://") + f"/webchat/{webchat.id}/ws?token={token}"
    key = {"authorization": f"Bearer {world.ws['api_key']}"}
    async with websockets.connect(ws_url) as ws:
        await _frames_until(ws, lambda f: f["type"] == "ready")
        hello = {"type": "text", "text": "Can you show me the fabric?"}
        await ws.send(
            json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "content": hello})
        )
        await _frames_until(ws, lambda f: (_message(f) or {}).get("direction") == "in")
        for _ in range(200):
            rows = (await visitor.get("/api/v1/conversations", headers=key)).json()
            ids = [r["id"] for r in rows if r["id"] != world.conversation_id]
            if ids:
                break
            await asyncio.sleep(0.05)
        [cid] = ids
        queued = await visitor.post(
            f"/api/v1/conversations/{cid}/status",
            json={"status": "queued", "reason": "wants to see"},
            headers=key,
        )
        assert queued.status_code == 200, queued.text
        ann = await login(world.url, "acme", "ann@a.test")
        assert (await ann.post(f"/api/v1/inbox/conversations/{cid}/take")).status_code == 200
        uploaded = await ann.post(
            f"/api/v1/inbox/conversations/{cid}/upload",
            files=_file("swatch.png", PNG, "image/png"),
        )
        media = uploaded.json()
        content = {
            "type": "media",
            "kind": "file",  # the stored file's real kind wins
            "url": media["url"],
            "filename": media["filename"],
            "caption": "The linen, in sand",
        }
        sent = await ann.post(
            f"/api/v1/inbox/conversations/{cid}/messages", json={"content": content}
        )
        assert sent.status_code == 202, sent.text
        [reply] = sent.json()
        frames = await _frames_until(ws, lambda f: (_message(f) or {}).get("sender") == "agent")
    received = _message(frames[-1])
    assert received is not None and received["id"] == reply["id"]
    assert received["content"] == {
        "type": "media",
        "kind": "image",
        "url": media["url"],
        "caption": "The linen, in sand",
        "filename": "swatch.png",
        "mime_type": "image/png",
    }
    fetched = await visitor.get(media["url"])  # what the widget's <img> loads
    assert fetched.status_code == 200 and fetched.content == PNG
    for _ in range(100):  # the dispatcher marks the web-chat delivery done
        async with ctx.db.session() as session:
            stored = await session.get(Message, reply["id"])
        assert stored is not None
        if stored.status not in ("queued", "sending"):
            break
        await asyncio.sleep(0.05)
    assert (stored.status, stored.error_code) == ("sent", None)
    for client in (ann, visitor):
        await client.aclose()
