"""The Telegram adapter: secret-token webhooks in, Bot API calls out.

Inbound: Telegram POSTs one JSON ``Update`` per request to the URL given to ``setWebhook``, with
``X-Telegram-Bot-Api-Secret-Token: <secret_token>`` (the ``secret_token`` of ``setWebhook``).
Telegram does not sign the body: the secret header is all there is, so it is compared in constant
time and a missing header is rejected.

Outbound: ``POST {api_base_url}/bot<bot_token>/<method>`` with a JSON body; the answer is
``{"ok": true, "result": Message}`` or ``{"ok": false, "error_code", "description",
"parameters": {"retry_after"}}``. Sends are not idempotent (the Bot API has no idempotency key).

Callback buttons: the client shows a progress indicator until the bot answers the callback query.
:meth:`TelegramChannel.acknowledge` answers it in the webhook response itself (the Bot API runs a
method given in the webhook answer); :meth:`TelegramChannel.answer_callback` does the same with a
separate call, for callers that need to show a notification text.

Rate limits (Bot FAQ): ~30 messages/s overall, 1 message/s per chat (short bursts tolerated),
20 messages/min per group. ``default_rate_per_second`` paces the overall limit only; a per-chat
burst is answered with 429 and retried after the ``retry_after`` Telegram asks for.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx

from toonbank.channels.base import (
    MEDIA_SCHEME,
    ChannelAdapter,
    Connection,
    FetchedMedia,
    InboundMessage,
    InboundRequest,
    Manifest,
    ParsedEvent,
    SendError,
    SendResult,
    SignatureError,
    WebhookResponse,
    classify_http_failure,
    download,
    json_body,
    retry_after_seconds,
)
from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content, Text
from toonbank.channels.render import degrade
from toonbank.channels.telegram.parse import parse_update
from toonbank.channels.telegram.render import render
from toonbank.kit.crypto import constant_time_equal

DEFAULT_API_BASE = "https://api.telegram.org"
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
DEFAULT_RETRY_AFTER = 1.0
"""Seconds to wait after a 429 that names no ``retry_after`` (per-chat limit is 1 msg/s)."""

CAPABILITIES = Capabilities(
    media=frozenset({"image", "audio", "video", "file"}),
    location=True,
    contact_card=True,
    max_buttons=13,
    list_picker=True,
    max_text_length=4096,
)
"""Inline keyboards for buttons and lists; media by URL; venues and contacts natively."""


class TelegramChannel(ChannelAdapter):
    """Telegram bots: webhook updates in, Bot API ``send*`` calls out."""

    manifest = Manifest(
        type="telegram",
        title="Telegram",
        capabilities=CAPABILITIES,
        required_settings=("bot_token", "secret_token"),
        secret_settings=("bot_token", "secret_token"),
        default_rate_per_second=30,
        idempotent_sends=False,
    )

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        """The secret-token header must equal the connection's ``secret_token``."""
        expected = connection.setting("secret_token")
        if not expected:
            raise SignatureError("connection has no secret_token to verify webhooks with")
        received = request.headers.get(SECRET_HEADER)
        if not received:
            raise SignatureError("missing X-Telegram-Bot-Api-Secret-Token header")
        if not constant_time_equal(str(expected), received):
            raise SignatureError("X-Telegram-Bot-Api-Secret-Token does not match")

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        """One ``Update`` → zero or one event."""
        update = json_body(request)
        return parse_update(update)

    def acknowledge(self, events: list[ParsedEvent]) -> WebhookResponse:
        """200; for a button press, the answer carries ``answerCallbackQuery`` for Telegram."""
        for event in events:
            query_id = (
                event.extra.get("callback_query_id") if isinstance(event, InboundMessage) else None
            )
            if query_id:
                body = {"method": "answerCallbackQuery", "callback_query_id": query_id}
                return WebhookResponse(
                    status=200, body=json.dumps(body).encode(), media_type="application/json"
                )
        return WebhookResponse(status=200, body=b"ok")

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        """One Bot API call; content Telegram cannot fetch or show is sent as text instead."""
        call = render(recipient, content)
        if call is None:
            call = render(recipient, _as_text(content))
        if call is None:  # pragma: no cover - Text always renders
            raise SendError("content cannot be sent", retryable=False, error_code="unsupported")
        method, body = call
        result = await self._call(http, connection, method, body)
        return SendResult(provider_message_id=_message_id(result, recipient))

    async def answer_callback(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        callback_query_id: str,
        text: str | None = None,
    ) -> None:
        """Stop the button's progress indicator (optionally showing ``text`` as a toast)."""
        body: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            body["text"] = text[:200]
        await self._call(http, connection, "answerCallbackQuery", body)

    async def _call(
        self, http: httpx.AsyncClient, connection: Connection, method: str, body: dict[str, Any]
    ) -> Any:
        """POST a Bot API method; its ``result`` or a classified :class:`SendError`."""
        token = connection.setting("bot_token")
        if not token:
            raise SendError("connection has no bot_token", retryable=False, error_code="config")
        base = str(connection.api_base_url or DEFAULT_API_BASE).rstrip("/")
        response = await http.post(f"{base}/bot{token}/{method}", json=body)
        data = _json(response)
        if response.status_code < 300 and data.get("ok") is not False:
            return data.get("result")
        raise telegram_error(response, data)

    async def fetch_media(
        self, http: httpx.AsyncClient, connection: Connection, url: str, *, max_bytes: int
    ) -> FetchedMedia:
        """``provider-media://<file_id>``: ``getFile`` gives a path under ``/file/bot<token>/``."""
        if not url.startswith(MEDIA_SCHEME):
            return await super().fetch_media(http, connection, url, max_bytes=max_bytes)
        result = await self._call(
            http, connection, "getFile", {"file_id": url.removeprefix(MEDIA_SCHEME)}
        )
        path = result.get("file_path") if isinstance(result, dict) else None
        if not isinstance(path, str) or not path:
            raise SendError("getFile returned no file_path", retryable=False, error_code="media")
        base = str(connection.api_base_url or DEFAULT_API_BASE).rstrip("/")
        token = connection.setting("bot_token")
        media = await download(http, f"{base}/file/bot{token}/{path}", max_bytes=max_bytes)
        return FetchedMedia(media.data, media.content_type, path.rsplit("/", 1)[-1])


def _as_text(content: Content) -> Content:
    """The plain-text form of content Telegram refuses (a file type it cannot fetch by URL,
    a contact without a phone number): what a channel without that capability would get."""
    plain = dataclasses.replace(CAPABILITIES, media=frozenset(), contact_card=False)
    parts = degrade(content, plain)
    return parts[0] if len(parts) == 1 else Text(text="\n".join(_texts(parts))[:4096])


def _texts(parts: list[Content]) -> list[str]:
    return [part.text for part in parts if isinstance(part, Text)]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _message_id(result: Any, recipient: str) -> str | None:
    """``"<chat id>:<message id>"`` of the sent message (the form inbound replies refer to)."""
    if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
        return None
    chat = result.get("chat")
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    return f"{chat_id if chat_id is not None else recipient}:{result['message_id']}"


def _retry_after(response: httpx.Response, parameters: dict[str, Any]) -> float:
    """``parameters.retry_after`` of the body, else the ``Retry-After`` header, else 1 s."""
    value = parameters.get("retry_after")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return retry_after_seconds(response) or DEFAULT_RETRY_AFTER


def _forbidden_code(description: str) -> str:
    lowered = description.lower()
    if "blocked" in lowered:
        return "opted_out"  # "Forbidden: bot was blocked by the user"
    if "deactivated" in lowered or "initiate conversation" in lowered or "kicked" in lowered:
        return "invalid_recipient"
    return "forbidden"


def telegram_error(response: httpx.Response, data: dict[str, Any]) -> SendError:
    """Map a Bot API failure to a retryable or permanent :class:`SendError`."""
    status = response.status_code
    code = data.get("error_code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else status
    description = str(data.get("description") or f"Telegram answered HTTP {status}")[:500]
    raw_parameters = data.get("parameters")
    parameters: dict[str, Any] = raw_parameters if isinstance(raw_parameters, dict) else {}

    def permanent(error_code: str) -> SendError:
        return SendError(description, retryable=False, error_code=error_code, http_status=status)

    if code == 429:
        return SendError(
            description,
            retryable=True,
            error_code="rate_limited",
            http_status=status,
            retry_after=_retry_after(response, parameters),
        )
    if code == 403:
        return permanent(_forbidden_code(description))
    if code == 400:
        if "migrate_to_chat_id" in parameters:
            return permanent("chat_migrated")
        if "chat not found" in description.lower():
            return permanent("invalid_recipient")
        return permanent("invalid_request")
    if code in (401, 404):
        return permanent("auth")  # wrong bot token: the method URL does not exist
    if code >= 500 or status >= 500:
        return SendError(
            description, retryable=True, error_code="provider_error", http_status=status
        )
    return classify_http_failure(response, description)
