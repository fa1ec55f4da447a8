"""Twilio Programmable Messaging: SMS, MMS and WhatsApp via Twilio.

Settings (named as in Twilio's docs): ``account_sid`` (public, required), ``auth_token``
(secret, required), and a sender: ``from_number`` (E.164, or ``whatsapp:+…``) and/or
``messaging_service_sid`` (``MG…``). Optional ``status_callback_url``: sent as
``StatusCallback`` so delivery receipts arrive (point it at this connection's webhook URL).

Inbound: Twilio POSTs ``application/x-www-form-urlencoded`` to the number's (or Messaging
Service's) webhook URL, signed with ``X-Twilio-Signature`` (verified as described in
:mod:`toonbank.channels.twilio.signature`, shared with the voice channel). Set the configured
webhook URL in Twilio to exactly the public URL (same scheme, host, path and query).

Outbound: ``POST {api_base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` (form fields
``To``, ``From``/``MessagingServiceSid``, ``Body``, ``MediaUrl``, ``StatusCallback``), HTTP Basic
auth ``account_sid:auth_token``. The ``From`` channel prefix follows the recipient's: a reply to
``whatsapp:+31…`` goes out from ``whatsapp:<from_number>``. Twilio has no idempotency key for
this API, so a send retried after a crash mid-request may be delivered twice.

Rate: 1 message/second is the default (a long-code number in the US); toll-free numbers, short
codes, WhatsApp senders and Messaging Services with several numbers allow more — raise the
connection's ``rate_per_second`` accordingly.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

from toonbank.channels.base import (
    ChannelAdapter,
    Connection,
    FetchedMedia,
    InboundRequest,
    Manifest,
    ParsedEvent,
    SendError,
    SendResult,
    WebhookResponse,
    classify_http_failure,
    download,
    retry_after_seconds,
)
from toonbank.channels.capabilities import PLAIN_TEXT
from toonbank.channels.content import Content, Media, Text
from toonbank.channels.twilio.inbound import ERROR_CODES, parse_form
from toonbank.channels.twilio.signature import request_params, verify_signature

DEFAULT_API_BASE = "https://api.twilio.com"
DEFAULT_RETRY_AFTER = 1.0
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

CAPABILITIES = dataclasses.replace(PLAIN_TEXT, media=frozenset({"image"}))
"""SMS-like text (1600 chars, Twilio's Body limit) plus images by ``MediaUrl`` (MMS/WhatsApp)."""


class TwilioChannel(ChannelAdapter):
    """SMS, MMS and WhatsApp via Twilio Programmable Messaging."""

    manifest = Manifest(
        type="twilio",
        title="Twilio (SMS, MMS, WhatsApp)",
        capabilities=CAPABILITIES,
        required_settings=("account_sid", "auth_token"),
        secret_settings=("auth_token",),
        default_rate_per_second=1,
        idempotent_sends=False,
        keyword_opt_in=True,
    )

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        """Check ``X-Twilio-Signature`` over the public URL and every form parameter."""
        verify_signature(request, connection)

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        """Inbound messages and status callbacks (see :mod:`toonbank.channels.twilio.inbound`)."""
        return parse_form(request_params(request))

    def acknowledge(self, events: list[ParsedEvent]) -> WebhookResponse:
        """An empty TwiML document: Twilio expects TwiML and sends no automatic reply."""
        return WebhookResponse(status=200, body=EMPTY_TWIML, media_type="text/xml")

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        """Create one Message resource; returns its ``sid`` (what status callbacks carry)."""
        account_sid = str(connection.setting("account_sid") or "")
        token = str(connection.setting("auth_token") or "")
        if not account_sid or not token:
            raise SendError(
                "connection needs account_sid and auth_token", retryable=False, error_code="config"
            )
        form = _message_form(connection, recipient, content)
        base = (connection.api_base_url or DEFAULT_API_BASE).rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{account_sid}/Messages.json"
        response = await http.post(url, data=form, auth=httpx.BasicAuth(account_sid, token))
        if response.status_code >= 300:
            raise _send_error(response)
        try:
            sid = response.json().get("sid")
        except (ValueError, AttributeError):
            sid = None
        return SendResult(provider_message_id=str(sid) if sid else None)

    async def fetch_media(
        self, http: httpx.AsyncClient, connection: Connection, url: str, *, max_bytes: int
    ) -> FetchedMedia:
        """MMS media URLs answer to the account's credentials (HTTP Basic auth)."""
        if not url.startswith(("https://", "http://")):
            return await super().fetch_media(http, connection, url, max_bytes=max_bytes)
        auth = (
            str(connection.setting("account_sid") or ""),
            str(connection.setting("auth_token") or ""),
        )
        return await download(http, url, max_bytes=max_bytes, auth=auth)


def _channel_prefix(address: str) -> str:
    """``"whatsapp:"`` for ``"whatsapp:+31…"``, ``""`` for a plain number."""
    head, sep, _ = address.partition(":")
    return f"{head}:" if sep and head.isalpha() else ""


def _sender(connection: Connection, recipient: str) -> dict[str, str]:
    """``From`` (with the recipient's channel prefix) and/or ``MessagingServiceSid``."""
    sender: dict[str, str] = {}
    service = connection.setting("messaging_service_sid")
    number = str(connection.setting("from_number") or "")
    if number:
        bare = number.removeprefix(_channel_prefix(number))
        sender["From"] = _channel_prefix(recipient) + bare
    if service:
        sender["MessagingServiceSid"] = str(service)
    if not sender:
        raise SendError(
            "connection needs from_number or messaging_service_sid",
            retryable=False,
            error_code="config",
        )
    return sender


def _message_form(connection: Connection, recipient: str, content: Content) -> dict[str, Any]:
    """The form fields of ``POST …/Messages.json`` for one (already degraded) content item."""
    form: dict[str, Any] = {"To": recipient, **_sender(connection, recipient)}
    if isinstance(content, Text):
        form["Body"] = content.text
    elif isinstance(content, Media) and content.kind == "image":
        form["MediaUrl"] = content.url
        if content.caption:
            form["Body"] = content.caption
    else:
        raise SendError(
            f"Twilio cannot send {content.type} natively (degrade it first)",
            retryable=False,
            error_code="unsupported_content",
        )
    callback = connection.settings.get("status_callback_url")
    if callback:
        form["StatusCallback"] = str(callback)
    return form


def _send_error(response: httpx.Response) -> SendError:
    """Map Twilio's error JSON ``{"code", "message", "more_info", "status"}`` to a SendError."""
    try:
        data = response.json()
    except ValueError:
        data = None
    payload: dict[str, Any] = data if isinstance(data, dict) else {}
    code = str(payload.get("code") or "")
    message = str(payload.get("message") or f"Twilio answered HTTP {response.status_code}")
    detail = f"Twilio error {code}: {message}" if code else message
    status = response.status_code
    name = ERROR_CODES.get(code)
    if name == "rate_limited" or status == 429:
        return SendError(
            detail,
            retryable=True,
            error_code="rate_limited",
            http_status=status,
            retry_after=retry_after_seconds(response) or DEFAULT_RETRY_AFTER,
        )
    if status >= 500:
        return classify_http_failure(response, detail)
    if code == "20003" or status == 401:
        return SendError(detail, retryable=False, error_code="auth", http_status=status)
    if name or code:
        return SendError(
            detail, retryable=False, error_code=name or f"twilio_{code}", http_status=status
        )
    return classify_http_failure(response, detail)
