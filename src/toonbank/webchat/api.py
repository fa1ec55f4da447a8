"""The web-chat channel's endpoints: widget script, session, history, WebSocket, uploads.

Protocol reference: docs/webchat-protocol.md. Visitor messages take the same path as webhook
messages (``store_events``), deduplicated on the widget's ``client_id``, so a message re-sent
after a reconnect is stored once. Clients resume from ``last_event_id``; the event log is the
source of truth and the realtime bus only makes it fast.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from toonbank.api.deps import get_ctx
from toonbank.api.errors import ApiError
from toonbank.channels.base import Connection, InboundMessage
from toonbank.channels.content import Location, Media, Reply, Text, parse_content
from toonbank.contacts.service import resolve_contact
from toonbank.context import Context
from toonbank.conversations.events import contact_topic, event_view
from toonbank.kit.clock import now
from toonbank.kit.frames import receive_frame
from toonbank.models import Event, MediaObject, new_id
from toonbank.pipeline.ingest import store_events
from toonbank.webchat.media import media_headers, sniff_image

router = APIRouter(tags=["web chat"])
log = structlog.get_logger(__name__)
STATIC = Path(__file__).resolve().parent.parent / "static"
VISITOR_CONTENT = (Text, Reply, Media, Location)
MAX_FRAME = 16_384
REPLAY_PAGE = 500


class SessionRequest(BaseModel):
    token: str | None = Field(default=None, max_length=512)


class SessionResponse(BaseModel):
    token: str
    visitor_id: str


async def _webchat(ctx: Context, connection_id: str) -> Connection:
    connection = await ctx.connections.get(connection_id[:64])
    if connection is None or connection.type != "webchat":
        raise ApiError(404, "unknown_connection", "no web-chat connection with this id")
    return connection


def _visitor(ctx: Context, connection: Connection, token: str | None) -> str | None:
    if not token:
        return None
    data = ctx.visitor_tokens.verify(token)
    if data is None or data.get("c") != connection.id or not isinstance(data.get("v"), str):
        return None
    return str(data["v"])


async def _limit(request: Request, bucket: str) -> None:
    host = request.client.host if request.client else "unknown"
    if not await request.app.state.widget_limiter.hit(bucket, host):
        raise ApiError(429, "rate_limited", "too many requests; slow down")


async def _contact(ctx: Context, connection: Connection, visitor_id: str) -> str:
    async with ctx.db.uow() as uow:
        return await resolve_contact(
            uow.session,
            workspace_id=connection.workspace_id,
            channel_type="webchat",
            external_id=visitor_id,
            connection_id=connection.id,
        )


@router.get("/webchat/widget.js", include_in_schema=False)
async def widget_script() -> FileResponse:
    return FileResponse(
        STATIC / "widget.js",
        media_type="application/javascript",
        headers={"cache-control": "public, max-age=300"},
    )


@router.post("/webchat/{connection_id}/session", response_model=SessionResponse)
async def open_session(
    connection_id: str, body: SessionRequest, request: Request, ctx: Context = Depends(get_ctx)
) -> SessionResponse:
    """Start or resume a visitor session; the signed token is the visitor's identity."""
    await _limit(request, "session")
    connection = await _webchat(ctx, connection_id)
    visitor_id = _visitor(ctx, connection, body.token)
    token = body.token
    if visitor_id is None:
        visitor_id = new_id()
        token = ctx.visitor_tokens.sign({"c": connection.id, "v": visitor_id})
    await _contact(ctx, connection, visitor_id)
    assert token is not None
    return SessionResponse(token=token, visitor_id=visitor_id)


async def _events_after(
    ctx: Context, contact_id: str, after: int, limit: int = REPLAY_PAGE
) -> list[dict[str, Any]]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Event)
            .where(Event.contact_id == contact_id, Event.public.is_(True), Event.id > after)
            .order_by(Event.id)
            .limit(limit)
        )
        return [event_view(e) for e in rows.scalars()]


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@router.get("/webchat/{connection_id}/events")
async def history(
    connection_id: str,
    request: Request,
    after: int = 0,
    limit: int = 200,
    ctx: Context = Depends(get_ctx),
) -> dict[str, Any]:
    """The visitor's events after ``after`` (the same stream the WebSocket replays)."""
    await _limit(request, "events")
    connection = await _webchat(ctx, connection_id)
    visitor_id = _visitor(ctx, connection, _bearer(request))
    if visitor_id is None:
        raise ApiError(401, "unauthorized", "missing or invalid visitor token")
    contact_id = await _contact(ctx, connection, visitor_id)
    events = await _events_after(ctx, contact_id, max(0, after), min(max(1, limit), REPLAY_PAGE))
    return {"events": events, "last_event_id": events[-1]["id"] if events else after}


@router.post("/webchat/{connection_id}/upload")
async def upload(
    connection_id: str, request: Request, file: UploadFile, ctx: Context = Depends(get_ctx)
) -> dict[str, Any]:
    """Store an image from the visitor; the type is sniffed from its bytes, not trusted."""
    await _limit(request, "upload")
    connection = await _webchat(ctx, connection_id)
    if _visitor(ctx, connection, _bearer(request)) is None:
        raise ApiError(401, "unauthorized", "missing or invalid visitor token")
    data = await file.read(ctx.settings.max_upload_bytes + 1)
    if len(data) > ctx.settings.max_upload_bytes:
        raise ApiError(
            413, "too_large", f"images may be at most {ctx.settings.max_upload_bytes} bytes"
        )
    mime = sniff_image(data)
    if mime is None:
        raise ApiError(415, "unsupported_media", "only JPEG, PNG, GIF and WebP images")
    media = MediaObject(
        workspace_id=connection.workspace_id,
        content_type=mime,
        size=len(data),
        data=data,
        filename=(file.filename or "")[:255] or None,
    )
    async with ctx.db.uow() as uow:
        uow.session.add(media)
    return {"url": f"/media/{media.id}", "kind": "image", "mime_type": mime}


@router.get("/media/{media_id}", include_in_schema=False)
async def media(media_id: str, ctx: Context = Depends(get_ctx)) -> Response:
    async with ctx.db.session() as session:
        row = await session.get(MediaObject, media_id[:32])
    if row is None:
        raise ApiError(404, "not_found", "no such media")
    return Response(row.data, media_type=row.content_type, headers=media_headers(row))


@router.websocket("/webchat/{connection_id}/ws")
async def websocket(websocket: WebSocket, connection_id: str) -> None:
    ctx: Context = websocket.app.state.ctx
    connection = await ctx.connections.get(connection_id[:64])
    token = websocket.query_params.get("token")
    visitor_id = (
        _visitor(ctx, connection, token)
        if connection is not None and connection.type == "webchat"
        else None
    )
    if connection is None or visitor_id is None:
        await websocket.close(code=4401, reason="invalid visitor token")
        return
    try:
        last_event_id = max(0, int(websocket.query_params.get("last_event_id", "0")))
    except ValueError:
        last_event_id = 0
    contact_id = await _contact(ctx, connection, visitor_id)
    await websocket.accept()
    session = VisitorSession(ctx, websocket, connection, visitor_id, contact_id)
    await session.run(last_event_id)


class VisitorSession:
    """One open widget connection: replay, then live events both ways."""

    def __init__(
        self,
        ctx: Context,
        websocket: WebSocket,
        connection: Connection,
        visitor_id: str,
        contact_id: str,
    ) -> None:
        self.ctx = ctx
        self.ws = websocket
        self.connection = connection
        self.visitor_id = visitor_id
        self.contact_id = contact_id
        self.last_sent = 0
        self.limiter = websocket.app.state.message_limiter

    async def run(self, last_event_id: int) -> None:
        subscription = await self.ctx.bus.subscribe(contact_topic(self.contact_id))
        try:
            await self._replay(last_event_id)
            await self.ws.send_json({"type": "ready", "last_event_id": self.last_sent})
            reader = asyncio.create_task(self._read())
            writer = asyncio.create_task(self._write(subscription))
            done, pending = await asyncio.wait(
                {reader, writer}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for task in done:  # retrieve it: a closed socket is the normal way to end
                error = task.exception()
                if error is not None and not isinstance(error, WebSocketDisconnect):
                    log.warning("webchat_session_failed", error=type(error).__name__)
        except WebSocketDisconnect:
            pass
        finally:
            await subscription.close()

    async def _replay(self, after: int) -> None:
        self.last_sent = after
        while True:
            events = await _events_after(self.ctx, self.contact_id, self.last_sent)
            for event in events:
                await self._send_event(event)
            if len(events) < REPLAY_PAGE:
                return

    async def _send_event(self, event: dict[str, Any]) -> None:
        if event["id"] <= self.last_sent:
            return  # already replayed; the live copy arrived while we were reading the log
        await self.ws.send_json({"type": "event", "event": event})
        self.last_sent = event["id"]

    async def _write(self, subscription: Any) -> None:
        """Forward live events by re-reading the durable log after each notification.

        Events of one contact are numbered in commit order (see ``record_event``), so reading
        the log from ``last_sent`` never skips one, even if notifications arrive out of order.
        """
        while True:
            message = await subscription.get(timeout=30)
            subscription.overflowed = False
            if message is not None and message.get("type") == "typing" and "id" not in message:
                await self.ws.send_json(message)
                continue
            if message is None or message["id"] > self.last_sent:
                await self._replay(self.last_sent)

    async def _read(self) -> None:
        while True:
            frame = await receive_frame(self.ws, MAX_FRAME, self._error)
            kind = frame.get("type")
            if kind == "ping":
                await self.ws.send_json({"type": "pong"})
            elif kind == "typing":
                await self._typing(frame)
            elif kind == "message":
                await self._message(frame)
            else:
                await self._error("invalid_frame", f"unknown frame type {kind!r}")

    async def _error(self, code: str, detail: str, client_id: str | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if client_id:
            frame["client_id"] = client_id
        await self.ws.send_json(frame)

    async def _typing(self, frame: dict[str, Any]) -> None:
        state = "on" if frame.get("state") == "on" else "off"
        await self.ctx.bus.publish(
            f"workspace:{self.connection.workspace_id}",
            {"type": "typing", "sender": "contact", "contact_id": self.contact_id, "state": state},
        )

    async def _message(self, frame: dict[str, Any]) -> None:
        client_id = frame.get("client_id")
        if not isinstance(client_id, str) or not 8 <= len(client_id) <= 64:
            await self._error("invalid_frame", "message needs a client_id (8-64 chars)")
            return
        try:
            content = parse_content(frame.get("content"))
        except ValidationError as exc:
            await self._error("invalid_content", exc.errors()[0]["msg"], client_id)
            return
        if not isinstance(content, VISITOR_CONTENT):
            await self._error("invalid_content", f"visitors cannot send {content.type}", client_id)
            return
        if isinstance(content, Media) and not content.url.startswith("/media/"):
            await self._error("invalid_content", "media must be uploaded first", client_id)
            return
        if not await self.limiter.hit("ws-message", self.visitor_id):
            await self._error("rate_limited", "too many messages; slow down", client_id)
            return
        message = InboundMessage(
            provider_message_id=client_id,
            sender_id=self.visitor_id,
            content=content,
            timestamp=now(),
        )
        await store_events(self.ctx, self.connection, [message])
        await self.ws.send_json({"type": "ack", "client_id": client_id})
