"""The Viber adapter: signed callbacks in, ``send_message`` out.

Inbound: ``X-Viber-Content-Signature: hex(HMAC-SHA256(auth_token, raw body))``. ``set_webhook``
makes Viber call the URL with an ``event: "webhook"`` callback, which must get a 200 (it parses
to no events).

Outbound: ``POST {api_base_url}/pa/send_message`` with ``X-Viber-Auth-Token`` and ``{"receiver",
"min_api_version", "sender": {"name"}, "type", ...}``; ``sender.name`` is required (≤ 28
characters): the ``sender_name`` setting, else the connection's name. Viber answers HTTP 200 for
most failures too, with a non-zero ``status``: ``{"status": 6, "status_message": "notSubscribed"}``;
success is ``{"status": 0, "message_token": <64-bit int>}``, kept exact as the provider id.

Viber caps a bot at 100 messages to one user per hour without a reply (status 12, "Too many
requests"); there is no documented overall rate, so pacing is conservative. Sends are not
idempotent (no idempotency key in the API).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

import httpx

from toonbank.channels.base import (
    ChannelAdapter,
    Connection,
    InboundRequest,
    Manifest,
    ParsedEvent,
    PayloadError,
    SendError,
    SendResult,
    SignatureError,
    classify_http_failure,
    json_body,
    retry_after_seconds,
)
from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content, Text
from toonbank.channels.render import degrade
from toonbank.channels.viber.parse import parse_callback, token
from toonbank.channels.viber.render import render
from toonbank.kit.crypto import constant_time_equal

DEFAULT_API_BASE = "https://chatapi.viber.com"
SIGNATURE_HEADER = "x-viber-content-signature"
SENDER_NAME_LIMIT = 28
RATE_LIMIT_WAIT = 60.0
"""Seconds to wait after status 12 when no ``Retry-After`` says otherwise (the limit is per user
per hour and resets when the user replies, so retrying within seconds is pointless)."""

CAPABILITIES = Capabilities(
    media=frozenset({"image"}),
    location=True,
    contact_card=True,
    max_buttons=13,
    list_picker=False,
    max_text_length=7000,
)
"""Keyboards for quick replies; pictures, location pins and single-number contacts natively."""

STATUS_CODES: dict[int, str] = {
    1: "config",  # invalid webhook URL
    2: "auth",  # invalid authentication token
    3: "invalid_request",  # bad data
    4: "invalid_request",  # missing data
    5: "invalid_recipient",  # receiver not registered to Viber
    6: "opted_out",  # receiver not subscribed to the bot
    7: "account_unavailable",  # bot blocked
    8: "account_unavailable",  # not a bot account
    9: "account_unavailable",  # bot suspended
    10: "config",  # no webhook set
    11: "unsupported_client",  # receiver's device / Viber version has no bot support
    13: "unsupported_client",  # min_api_version above the receiver's devices
    14: "invalid_request",  # min_api_version incompatible with the message fields
    15: "account_unavailable",  # bot not authorized
    21: "unsupported_country",
    23: "quota_exceeded",  # non-billable bot: monthly free out-of-session messages used up
    24: "quota_exceeded",  # billable bot: no balance after the free threshold
}
"""Viber ``status`` codes → stable error codes (all permanent; 12 is the retryable rate limit)."""


def signature(auth_token: str, body: bytes) -> str:
    """``X-Viber-Content-Signature`` for ``body``."""
    return hmac.new(auth_token.encode(), body, hashlib.sha256).hexdigest()


class ViberChannel(ChannelAdapter):
    """Viber bots via the REST Bot API."""

    manifest = Manifest(
        type="viber",
        title="Viber",
        capabilities=CAPABILITIES,
        required_settings=("auth_token",),
        secret_settings=("auth_token",),
        default_rate_per_second=20,
        idempotent_sends=False,
    )

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        """Hex HMAC-SHA256 of the raw body with the bot's auth token."""
        secret = connection.setting("auth_token")
        if not secret:
            raise SignatureError("connection has no auth_token to verify callbacks with")
        received = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
        if not received:
            raise SignatureError("missing X-Viber-Content-Signature header")
        if not constant_time_equal(signature(str(secret), request.body), received):
            raise SignatureError("X-Viber-Content-Signature does not match the body")

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        """One callback → zero or one event (64-bit tokens kept exact)."""
        data = json_body(request)
        return parse_callback(data)

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        """Send the content's messages in order; the last message's token is the id."""
        auth = connection.setting("auth_token")
        if not auth:
            raise SendError("connection has no auth_token", retryable=False, error_code="config")
        bodies = render(content) or render(_as_text(content)) or []
        url = str(connection.api_base_url or DEFAULT_API_BASE).rstrip("/") + "/pa/send_message"
        envelope = {"receiver": recipient, "min_api_version": 1, "sender": _sender(connection)}
        message_token: str | None = None
        for body in bodies:
            response = await http.post(
                url, json={**envelope, **body}, headers={"x-viber-auth-token": str(auth)}
            )
            message_token = _accepted(response)
        return SendResult(provider_message_id=message_token)


def _sender(connection: Connection) -> dict[str, str]:
    """``sender`` of every message: name (required, ≤ 28 characters) and optional avatar."""
    name = str(connection.setting("sender_name") or connection.name or "Shop")
    sender = {"name": name[:SENDER_NAME_LIMIT].strip() or "Shop"}
    avatar = connection.setting("sender_avatar")
    if avatar:
        sender["avatar"] = str(avatar)
    return sender


def _as_text(content: Content) -> Content:
    """The text a channel without this ability gets (rich contact cards, video, files)."""
    plain = dataclasses.replace(CAPABILITIES, media=frozenset(), contact_card=False)
    parts = degrade(content, plain)
    texts = [part.text for part in parts if isinstance(part, Text)]
    return parts[0] if len(parts) == 1 else Text(text="\n".join(texts)[:4096])


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _accepted(response: httpx.Response) -> str | None:
    """The ``message_token`` of a successful send; else raise the mapped error."""
    if response.status_code >= 300:
        raise classify_http_failure(response, f"Viber answered HTTP {response.status_code}")
    data = _json(response)
    status = data.get("status")
    if status == 0:
        raw = data.get("message_token")
        try:
            return token(raw) if raw is not None else None
        except PayloadError:
            return None
    raise viber_error(response, data)


def viber_error(response: httpx.Response, data: dict[str, Any]) -> SendError:
    """Map a non-zero ``status`` (answered with HTTP 200) to a :class:`SendError`."""
    status = data.get("status")
    message = str(data.get("status_message") or "unknown error")
    detail = f"Viber status {status}: {message}"[:500]
    if status == 12:
        return SendError(
            detail,
            retryable=True,
            error_code="rate_limited",
            http_status=response.status_code,
            retry_after=retry_after_seconds(response) or RATE_LIMIT_WAIT,
        )
    code = STATUS_CODES.get(status) if isinstance(status, int) else None
    return SendError(
        detail,
        retryable=False,
        error_code=code or f"viber_{status}",
        http_status=response.status_code,
    )
