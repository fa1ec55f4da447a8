"""The LINE adapter: signed webhooks in, push messages out.

Inbound: ``X-Line-Signature: base64(HMAC-SHA256(channel_secret, raw body))``; the console's
"Verify" button sends a signed body with no events.

Outbound: ``POST {api_base_url}/v2/bot/message/push`` with ``{"to", "messages": [≤ 5]}``,
``Authorization: Bearer <channel_access_token>`` and ``X-Line-Retry-Key``: a UUID derived from
the idempotency key. LINE executes a request with a given retry key once (for 24 hours) and
answers a repeat with 409, so a send retried after a crash is never delivered twice
(``idempotent_sends``). Reply tokens (free, single-use, short-lived) are kept in the inbound
event's ``extra`` but not used: the dispatcher may send long after they expire.

Errors: 429 is the rate limit (2,000 requests/s per channel for push) — or, with "You have
reached your monthly limit.", the plan's message quota, which a retry does not fix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

import httpx

from toonbank.channels.base import (
    MEDIA_SCHEME,
    ChannelAdapter,
    Connection,
    FetchedMedia,
    InboundRequest,
    Manifest,
    ParsedEvent,
    SendError,
    SendResult,
    SignatureError,
    classify_http_failure,
    download,
    json_body,
    retry_after_seconds,
)
from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content
from toonbank.channels.line.parse import parse_body
from toonbank.channels.line.render import chunks, messages
from toonbank.kit.crypto import constant_time_equal

DEFAULT_API_BASE = "https://api.line.me"
DATA_API_BASE = "https://api-data.line.me"
"""Message content (images, audio, …) is served from a separate host."""
SIGNATURE_HEADER = "x-line-signature"
RETRY_KEY_NAMESPACE = uuid.UUID("8a3f7c2e-5b1d-4e0a-9c6f-2d4b8e1a7f30")
"""Fixed namespace of the UUIDv5 retry keys (changing it would break dedupe of retries)."""
DEFAULT_RETRY_AFTER = 1.0

CAPABILITIES = Capabilities(
    media=frozenset({"image"}),
    location=True,
    contact_card=False,
    max_buttons=13,
    list_picker=True,
    product_card=True,
    carousel=True,
    max_text_length=5000,
)
"""Quick replies, Flex product cards/carousels, images and locations natively."""


def signature(channel_secret: str, body: bytes) -> str:
    """``X-Line-Signature`` for ``body``."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def retry_key(connection: Connection, idempotency_key: str, part: int = 0) -> str:
    """The ``X-Line-Retry-Key`` for a send: the same key (and part) always gives the same UUID."""
    name = f"{connection.id}:{idempotency_key}" + (f"#{part}" if part else "")
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, name))


class LineChannel(ChannelAdapter):
    """LINE Official Accounts via the Messaging API."""

    manifest = Manifest(
        type="line",
        title="LINE",
        capabilities=CAPABILITIES,
        required_settings=("channel_secret", "channel_access_token"),
        secret_settings=("channel_secret", "channel_access_token"),
        default_rate_per_second=2000,
        idempotent_sends=True,
    )

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        """Base64 HMAC-SHA256 of the raw body with the channel secret."""
        secret = connection.setting("channel_secret")
        if not secret:
            raise SignatureError("connection has no channel_secret to verify webhooks with")
        received = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not received:
            raise SignatureError("missing X-Line-Signature header")
        if not constant_time_equal(signature(str(secret), request.body), received):
            raise SignatureError("X-Line-Signature does not match the body")

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        """Messages and postbacks of the body's events (other events are skipped)."""
        data = json_body(request)
        return parse_body(data)

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        """Push the content's messages (five per request, each request with its retry key)."""
        token = connection.setting("channel_access_token")
        if not token:
            raise SendError(
                "connection has no channel_access_token", retryable=False, error_code="config"
            )
        url = str(connection.api_base_url or DEFAULT_API_BASE).rstrip("/") + "/v2/bot/message/push"
        first: str | None = None
        for part, group in enumerate(chunks(messages(content, CAPABILITIES))):
            headers = {
                "authorization": f"Bearer {token}",
                "x-line-retry-key": retry_key(connection, idempotency_key, part),
            }
            response = await http.post(
                url, json={"to": recipient, "messages": group}, headers=headers
            )
            sent_id = _accepted(response)
            first = first or sent_id
        return SendResult(provider_message_id=first)

    async def fetch_media(
        self, http: httpx.AsyncClient, connection: Connection, url: str, *, max_bytes: int
    ) -> FetchedMedia:
        """``provider-media://<message id>``: the content API (``api-data.line.me``)."""
        if not url.startswith(MEDIA_SCHEME):
            return await super().fetch_media(http, connection, url, max_bytes=max_bytes)
        base = str(connection.api_base_url or DATA_API_BASE).rstrip("/")
        message_id = url.removeprefix(MEDIA_SCHEME)
        token = connection.setting("channel_access_token")
        return await download(
            http,
            f"{base}/v2/bot/message/{message_id}/content",
            max_bytes=max_bytes,
            headers={"authorization": f"Bearer {token}"},
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _first_sent(data: dict[str, Any]) -> str | None:
    sent = data.get("sentMessages")
    if isinstance(sent, list) and sent and isinstance(sent[0], dict) and sent[0].get("id"):
        return str(sent[0]["id"])
    return None


def _accepted(response: httpx.Response) -> str | None:
    """The first sent message id of a successful (or already accepted) push; else raise."""
    data = _json(response)
    if response.status_code < 300:
        return _first_sent(data)
    if response.status_code == 409 and _already_accepted(response, data):
        return _first_sent(data)  # a retry of a push LINE already executed: success
    raise line_error(response, data)


def _already_accepted(response: httpx.Response, data: dict[str, Any]) -> bool:
    """409 because the retry key was used before (not some other conflict)."""
    message = str(data.get("message", "")).lower()
    return (
        "x-line-accepted-request-id" in response.headers
        or "retry key" in message
        or "sentMessages" in data
    )


def _detail(status: int, data: dict[str, Any]) -> str:
    """LINE's message plus the property-level details of a validation error."""
    message = str(data.get("message") or f"LINE answered HTTP {status}")
    details = data.get("details")
    if isinstance(details, list):
        parts = [f"{d.get('property')}: {d.get('message')}" for d in details if isinstance(d, dict)]
        if parts:
            message += " (" + "; ".join(parts) + ")"
    return message[:500]


def line_error(response: httpx.Response, data: dict[str, Any]) -> SendError:
    """Map a Messaging API failure to a retryable or permanent :class:`SendError`."""
    status = response.status_code
    detail = _detail(status, data)
    if status == 429:
        if "monthly limit" in detail.lower():
            return SendError(detail, retryable=False, error_code="quota_exceeded", http_status=429)
        return SendError(
            detail,
            retryable=True,
            error_code="rate_limited",
            http_status=429,
            retry_after=retry_after_seconds(response) or DEFAULT_RETRY_AFTER,
        )
    permanent = {400: "invalid_request", 401: "auth", 403: "forbidden"}
    if status in permanent:
        return SendError(detail, retryable=False, error_code=permanent[status], http_status=status)
    if status >= 500:
        return SendError(detail, retryable=True, error_code="provider_error", http_status=status)
    return classify_http_failure(response, detail)
