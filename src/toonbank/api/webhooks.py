"""``/webhooks/{connection_id}``: verify → parse → store once → acknowledge.

Voice calls (``twilio-voice``) are verified the same way, then answered by the live-call
controller (:mod:`toonbank.voice.calls`), whose TwiML depends on the state of the call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, Depends, Request, Response
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from toonbank.api.deps import get_ctx
from toonbank.api.errors import ApiError
from toonbank.channels.base import (
    ChannelAdapter,
    Connection,
    InboundRequest,
    ParsedEvent,
    PayloadError,
    SignatureError,
)
from toonbank.context import Context
from toonbank.ops import metrics
from toonbank.pipeline.ingest import store_events
from toonbank.voice.calls import VOICE_TYPE, answer_call

router = APIRouter(tags=["webhooks"])
log = structlog.get_logger(__name__)


async def _connection(ctx: Context, connection_id: str) -> Connection:
    connection = await ctx.connections.get(connection_id[:64])
    if connection is None:
        raise ApiError(404, "unknown_connection", "no active channel connection with this id")
    return connection


def _public_url(request: Request, public_base: str) -> str:
    """The URL the provider called, as configured publicly (proxies rewrite host and port).

    Twilio signs the exact URL it was given; behind a TLS-terminating proxy our own view of
    the URL (http://10.0.0.5:8000/...) differs from it, so rebuild it from ``public_url``.
    """
    query = request.url.query
    return public_base.rstrip("/") + request.url.path + (f"?{query}" if query else "")


def _inbound(request: Request, body: bytes, public_base: str) -> InboundRequest:
    return InboundRequest(
        method=request.method,
        url=_public_url(request, public_base),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=body,
    )


@router.get("/webhooks/{connection_id}", include_in_schema=False)
async def handshake(
    connection_id: str, request: Request, ctx: Context = Depends(get_ctx)
) -> Response:
    connection = await _connection(ctx, connection_id)
    answer = ctx.channels.get(connection.type).handshake(
        _inbound(request, b"", ctx.settings.public_url), connection
    )
    if answer is None:
        raise ApiError(405, "method_not_allowed", "this channel has no verification handshake")
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)


@router.post("/webhooks/{connection_id}", summary="Receive a provider webhook")
async def receive(
    connection_id: str, request: Request, ctx: Context = Depends(get_ctx)
) -> Response:
    connection = await _connection(ctx, connection_id)
    adapter = ctx.channels.get(connection.type)
    inbound = _inbound(request, await request.body(), ctx.settings.public_url)
    try:
        adapter.verify(inbound, connection)
    except SignatureError as exc:
        metrics.WEBHOOKS_REJECTED.labels(connection.type, "signature").inc()
        log.warning("webhook_rejected", connection_id=connection.id, reason=str(exc))
        raise ApiError(401, exc.code, str(exc)) from None
    try:
        if connection.type == VOICE_TYPE:  # calls are answered with TwiML from their state
            call = await answer_call(ctx, connection, inbound)
            return Response(call.body, status_code=call.status, media_type=call.media_type)
        events = adapter.parse(inbound, connection)
    except PayloadError as exc:
        metrics.WEBHOOKS_REJECTED.labels(connection.type, "payload").inc()
        raise ApiError(400, exc.code, str(exc)) from None
    return await _store_and_acknowledge(ctx, adapter, connection, events)


async def _store_and_acknowledge(
    ctx: Context, adapter: ChannelAdapter, connection: Connection, events: list[ParsedEvent]
) -> Response:
    result = await store_events(ctx, connection, events)
    log.debug(
        "webhook_stored",
        connection_id=connection.id,
        workspace_id=connection.workspace_id,
        stored=result.stored,
        duplicates=result.duplicates,
    )
    answer = adapter.acknowledge(events)
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)


# -- the fast path -----------------------------------------------------------------------------

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
PREFIX = "/webhooks/"


def is_webhook_post(scope: Scope) -> bool:
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and scope["path"].startswith(PREFIX)
        and "/" not in scope["path"][len(PREFIX) :]
    )


def _replay(body: bytes, more_body: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands out what was already read, then the rest of the stream."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replay


async def _read(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, up to ``limit`` bytes; ``(what was read, True)`` if there is more."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True  # disconnected: let the full app deal with it
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False
        if size > limit:
            return b"".join(chunks), True


async def receive_fast(
    ctx: Context, scope: Scope, receive: Receive, send: Send, full_app: ASGIApp
) -> None:
    """``POST /webhooks/{id}`` without the framework around it: the same steps as
    :func:`receive` for a well-formed, correctly signed delivery.

    A webhook is the one request that arrives at the rate customers write; the middleware
    stack, routing and dependency solving of the full application cost more than the work
    itself (about a third of a busy server's CPU in the turn benchmark). Everything that is
    not the happy path (too large or chunked bodies, unknown connections, voice calls, bad
    signatures or payloads) is handed to the full application with the body replayed, so
    errors, limits and metrics stay in one place.
    """
    declared = dict(scope["headers"]).get(b"content-length")
    limit = ctx.settings.max_body_bytes
    if declared is None or not declared.isdigit() or int(declared) > limit:
        await full_app(scope, receive, send)
        return
    body, more = await _read(receive, limit)
    replayed = _replay(body, more, receive)
    connection = None if more else await ctx.connections.get(scope["path"][len(PREFIX) :][:64])
    if connection is None or connection.type == VOICE_TYPE:
        await full_app(scope, replayed, send)
        return
    adapter = ctx.channels.get(connection.type)
    inbound = _inbound(Request(scope), body, ctx.settings.public_url)
    try:
        adapter.verify(inbound, connection)
        events = adapter.parse(inbound, connection)
    except (SignatureError, PayloadError):
        await full_app(scope, replayed, send)  # rejected there, with its metrics and log line
        return
    try:
        response: Response = await _store_and_acknowledge(ctx, adapter, connection, events)
    except Exception:
        log.exception("webhook_failed", connection_id=connection.id)
        response = PlainTextResponse("Internal Server Error", status_code=500)
    await response(scope, receive, send)
