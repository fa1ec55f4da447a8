"""The custom API channel: any system speaks to Toonbank with signed JSON over HTTP.

Inbound: ``POST /webhooks/{connection_id}`` with ``X-Toonbank-Timestamp`` (unix seconds) and
``X-Toonbank-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.
Requests older or newer than five minutes are rejected (replay protection). Body::

    {"messages": [{"id": "ext-1", "from": "user-1", "name": "Ann", "phone": "+3161…",
                   "timestamp": 1700000000, "content": {"type": "text", "text": "hi"}}],
     "statuses": [{"id": "prov-9", "status": "delivered", "timestamp": 1700000001,
                   "error": {"code": "x", "detail": "…"}}]}

Outbound: ``POST {api_base_url}/messages`` with ``{"to", "content", "idempotency_key"}``, the
same signature headers and ``Idempotency-Key``; the receiver answers ``{"id": "…"}``. Because
the receiver deduplicates on the key, a send retried after a crash is never delivered twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from toonbank.channels.base import (
    ChannelAdapter,
    Connection,
    DeliveryReceipt,
    InboundMessage,
    InboundRequest,
    Manifest,
    ParsedEvent,
    PayloadError,
    SendError,
    SendResult,
    SignatureError,
    classify_http_failure,
    json_body,
)
from toonbank.channels.capabilities import RICH
from toonbank.channels.content import Content, dump_content, parse_content
from toonbank.channels.http import post_bytes
from toonbank.kit.crypto import constant_time_equal

TOLERANCE_SECONDS = 300
STATUSES = {"sent", "delivered", "read", "failed"}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "content-type": "application/json",
        "x-toonbank-timestamp": ts,
        "x-toonbank-signature": sign(secret, ts, body),
    }


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise PayloadError("timestamp must be unix seconds")
    return datetime.fromtimestamp(value, UTC)


class ApiChannel(ChannelAdapter):
    manifest = Manifest(
        type="api",
        title="Custom API (signed JSON webhooks)",
        capabilities=RICH,
        required_settings=("webhook_secret",),
        secret_settings=("webhook_secret",),
        default_rate_per_second=100,
        idempotent_sends=True,
    )

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        secret = connection.setting("webhook_secret")
        timestamp = request.headers.get("x-toonbank-timestamp", "")
        signature = request.headers.get("x-toonbank-signature", "")
        if not secret or not timestamp or not signature:
            raise SignatureError("missing X-Toonbank-Timestamp or X-Toonbank-Signature")
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            raise SignatureError("X-Toonbank-Timestamp must be unix seconds") from None
        if age > TOLERANCE_SECONDS:
            raise SignatureError("timestamp outside the 5-minute tolerance (replayed?)")
        if not constant_time_equal(sign(secret, timestamp, request.body), signature):
            raise SignatureError("signature does not match the body")

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        data = json_body(request)
        if not isinstance(data, dict):
            raise PayloadError("body must be a JSON object")
        events: list[ParsedEvent] = []
        for item in _list(data, "messages"):
            events.append(self._message(item))
        for item in _list(data, "statuses"):
            events.append(self._status(item))
        if not events:
            raise PayloadError("no messages or statuses in body")
        return events

    def _message(self, item: dict[str, Any]) -> InboundMessage:
        try:
            content = parse_content(item.get("content"))
        except ValidationError as exc:
            raise PayloadError(f"invalid content: {exc.errors()[0]['msg']}") from None
        msg_id, sender = item.get("id"), item.get("from")
        if not isinstance(msg_id, str) or not msg_id or not isinstance(sender, str) or not sender:
            raise PayloadError("each message needs string 'id' and 'from'")
        return InboundMessage(
            provider_message_id=msg_id[:255],
            sender_id=sender[:255],
            content=content,
            sender_name=item.get("name") if isinstance(item.get("name"), str) else None,
            phone=item.get("phone") if isinstance(item.get("phone"), str) else None,
            timestamp=_timestamp(item.get("timestamp")),
        )

    def _status(self, item: dict[str, Any]) -> DeliveryReceipt:
        status, msg_id = item.get("status"), item.get("id")
        if status not in STATUSES or not isinstance(msg_id, str) or not msg_id:
            raise PayloadError("each status needs 'id' and a status in " + ", ".join(STATUSES))
        raw_error = item.get("error")
        error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        return DeliveryReceipt(
            provider_message_id=msg_id,
            status=status,
            timestamp=_timestamp(item.get("timestamp")),
            error_code=str(error["code"]) if error.get("code") is not None else None,
            error_detail=str(error["detail"]) if error.get("detail") is not None else None,
        )

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        if not connection.api_base_url:
            raise SendError("connection has no api_base_url", retryable=False, error_code="config")
        body = json.dumps(
            {"to": recipient, "content": dump_content(content), "idempotency_key": idempotency_key}
        ).encode()
        headers = signed_headers(str(connection.setting("webhook_secret")), body)
        headers["idempotency-key"] = idempotency_key
        url = connection.api_base_url.rstrip("/") + "/messages"
        response = await post_bytes(http, url, body, headers)
        if response.status_code >= 300:
            raise classify_http_failure(response)
        try:
            provider_id = response.json().get("id")
        except ValueError:
            provider_id = None
        return SendResult(provider_message_id=str(provider_id) if provider_id else None)


def _list(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PayloadError(f"'{key}' must be a list of objects")
    if len(value) > 100:
        raise PayloadError(f"at most 100 {key} per request")
    return value
