"""LINE Messaging API: push messages out, signed webhook events in.

API: ``POST /v2/bot/message/push`` ``{"to", "messages": [1..5]}`` with ``Authorization: Bearer
<channel access token>`` answers ``{"sentMessages": [{"id", "quoteToken"}]}``. An
``X-Line-Retry-Key`` (a UUID) makes a push idempotent: a repeat of an accepted key answers 409
``{"message": "The retry key is already accepted", "sentMessages": …}`` with
``X-Line-Accepted-Request-Id``, and sends nothing. ``POST /v2/bot/message/reply`` takes a
(single-use) reply token; ``GET /v2/bot/message/{id}/content`` serves a customer's media
(``api-data.line.me`` in production); ``PUT /v2/bot/channel/webhook/endpoint`` sets the webhook
URL. Errors: ``{"message"[, "details": [{"message", "property"}]]}``; 401 bad token, 400
validation, 429 rate limit, 5xx.

Webhooks: ``{"destination": <bot user id>, "events": [...]}`` signed with ``X-Line-Signature``
(base64 HMAC-SHA256 of the body with the channel secret). Events carry a ULID
``webhookEventId``, ``deliveryContext.isRedelivery``, a ``replyToken``; a quick-reply postback
button comes back as a ``postback`` event with its ``data``. Registering a webhook sends LINE's
verification request (no events). LINE has no delivery receipts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from toonbank.simulator.base import (
    Account,
    Choice,
    Fault,
    MediaFile,
    Provider,
    Rand,
    Refusal,
    Sent,
    Webhook,
    WebhookRefused,
    compact,
    json_object,
)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MESSAGE_TYPES = frozenset(
    {"text", "sticker", "image", "video", "audio", "location", "imagemap", "template", "flex"}
)


def ulid(rand: Rand) -> str:
    """A ULID (what LINE uses for ``webhookEventId``): 48-bit ms time + 80 random bits."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(rand.bytes(10), "big")
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def line_error(
    status: int, message: str, details: list[dict[str, str]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers={"x-line-request-id": str(uuid.uuid4())})


def invalid(problems: list[tuple[str, str]]) -> Refusal:
    details = [{"message": message, "property": prop} for prop, message in problems]
    return Refusal(line_error(400, f"The request body has {len(details)} error(s)", details))


class Line(Provider):
    name = "line"
    title = "LINE Messaging API"
    send_faults = frozenset({"rate_limited", "server_error", "timeout", "invalid_recipient"})

    def new_account(self, rand: Rand) -> Account:
        token = rand.b64(129).rstrip("=").replace("/", "+") + "="
        settings = {"channel_secret": rand.hex(32), "channel_access_token": token}
        state = {"bot_user_id": "U" + rand.hex(32), "retry_keys": {}, "reply_tokens": {}}
        return Account(self.name, token, settings, state=state)

    def new_customer(self, rand: Rand, **options: Any) -> str:
        return "U" + rand.hex(32)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v2/bot/message/push", self.endpoint("push", self._push), methods=["POST"]),
            Route("/v2/bot/message/reply", self.endpoint("reply", self._reply), methods=["POST"]),
            Route(
                "/v2/bot/message/{message_id}/content",
                self.endpoint("content", self._content),
                methods=["GET"],
            ),
            Route("/v2/bot/info", self.endpoint("info", self._info), methods=["GET"]),
            Route(
                "/v2/bot/channel/webhook/endpoint",
                self.endpoint("webhook_endpoint", self._set_endpoint),
                methods=["PUT"],
            ),
        ]

    # -- the API -------------------------------------------------------------------------------

    def _account(self, request: Request) -> Account:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        account = self.sim.account(self.name, token) if token else None
        if account is None:
            raise Refusal(
                line_error(
                    401,
                    "Authentication failed. Confirm that the access token in the authorization "
                    "header is valid.",
                ),
                "unauthorized",
            )
        request.state.account = account.key
        return account

    async def _push(self, request: Request) -> Response:
        account = self._account(request)
        retry_key = request.headers.get("x-line-retry-key")
        if retry_key is not None:
            try:
                uuid.UUID(retry_key)
            except ValueError:
                raise Refusal(
                    line_error(400, "The value of the X-Line-Retry-Key header is invalid")
                ) from None
        body = await json_object(request)
        to = body.get("to")
        if not isinstance(to, str) or not to:
            raise Refusal(
                line_error(
                    400, "The property, 'to', in the request body is invalid (line: -, column: -)"
                )
            )
        request.state.recipient = to
        keys: dict[str, tuple[str, list[dict[str, str]]]] = account.state["retry_keys"]
        if retry_key in keys:
            request.state.outcome = "duplicate"
            accepted_id, sent_messages = keys[retry_key]
            return JSONResponse(
                {"message": "The retry key is already accepted", "sentMessages": sent_messages},
                status_code=409,
                headers={"x-line-accepted-request-id": accepted_id},
            )
        return await self._accept(request, account, to, body, retry_key)

    async def _reply(self, request: Request) -> Response:
        account = self._account(request)
        body = await json_object(request)
        tokens: dict[str, str] = account.state["reply_tokens"]
        to = tokens.pop(str(body.get("replyToken", "")), None)
        if to is None:
            raise Refusal(line_error(400, "Invalid reply token"))
        return await self._accept(request, account, to, body, None)

    async def _accept(
        self,
        request: Request,
        account: Account,
        to: str,
        body: dict[str, Any],
        retry_key: str | None,
    ) -> Response:
        messages = body.get("messages")
        _validate(messages)
        assert isinstance(messages, list)

        def accept() -> tuple[Sent, Response]:
            sent_messages = [
                {"id": self.sim.ids.digits(18), "quoteToken": self.sim.ids.token(64)}
                for _ in messages
            ]
            request_id = str(uuid.uuid4())
            if retry_key is not None:
                account.state["retry_keys"][retry_key] = (request_id, sent_messages)
            kind, text, options, actions = _summary(messages)
            sent = Sent(
                self.name,
                account.key,
                to,
                sent_messages[0]["id"],
                kind,
                text,
                options,
                body,
                context={"actions": actions, "request_id": request_id},
            )
            headers = {"x-line-request-id": request_id}
            if retry_key is not None:
                headers["x-line-accepted-request-id"] = request_id
            return sent, JSONResponse({"sentMessages": sent_messages}, headers=headers)

        return await self.sim.deliver(self, account, to, request, accept)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limited":
            response = line_error(429, "The API rate limit has been exceeded. Try again later.")
            if fault.retry_after is not None:
                response.headers["retry-after"] = f"{fault.retry_after:g}"
            return response
        if fault.kind == "invalid_recipient":
            return line_error(
                400, "The property, 'to', in the request body is invalid (line: -, column: -)"
            )
        return line_error(
            fault.status or 500, "An error occurred in the server. Please try again later."
        )

    def malformed(self, detail: str) -> Response:
        return line_error(400, "The request body has 1 error(s)", [{"message": "Invalid value"}])

    async def _content(self, request: Request) -> Response:
        account = self._account(request)
        contents: dict[str, str] = account.state.setdefault("contents", {})
        media_id = contents.get(request.path_params["message_id"])
        media = self.sim.media_file(media_id) if media_id else None
        if media is None:
            return line_error(404, "Not found")
        return Response(media.data, media_type=media.mime_type)

    async def _info(self, request: Request) -> Response:
        account = self._account(request)
        return JSONResponse(
            {
                "userId": account.state["bot_user_id"],
                "basicId": "@" + account.state["bot_user_id"][1:8],
                "displayName": "Sim Shop",
                "chatMode": "bot",
                "markAsReadMode": "auto",
            }
        )

    async def _set_endpoint(self, request: Request) -> Response:
        account = self._account(request)
        endpoint = (await json_object(request)).get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise invalid([("endpoint", "must be specified")])
        account.webhook_url = endpoint
        return JSONResponse({})

    # -- webhooks ------------------------------------------------------------------------------

    def _events(
        self, account: Account, events: list[dict[str, Any]], kind: str = "message"
    ) -> Webhook:
        data = {"destination": account.state["bot_user_id"], "events": events}
        body = compact(data, ascii_only=False)
        digest = hmac.new(
            account.settings["channel_secret"].encode(), body, hashlib.sha256
        ).digest()
        headers = {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "LineBotWebhook/2.0",
            "x-line-signature": base64.b64encode(digest).decode(),
        }
        return Webhook(account.webhook_url or "", body, headers, kind)

    def _event(self, account: Account, customer: str, kind: str, **content: Any) -> Webhook:
        reply_token = self.sim.ids.hex(32)
        account.state["reply_tokens"][reply_token] = customer
        event = {
            "type": kind,
            **content,
            "webhookEventId": ulid(self.sim.ids),
            "deliveryContext": {"isRedelivery": False},
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": customer},
            "replyToken": reply_token,
            "mode": "active",
        }
        return self._events(account, [event])

    def text(self, account: Account, customer: str, text: str) -> Webhook:
        message = {
            "type": "text",
            "id": self.sim.ids.digits(18),
            "quoteToken": self.sim.ids.token(64),
            "text": text,
        }
        return self._event(account, customer, "message", message=message)

    def reply(self, account: Account, customer: str, sent: Sent, choice: Choice) -> Webhook:
        action = sent.context.get("actions", {}).get(choice.value, {})
        if action.get("type") == "message":
            return self.text(account, customer, str(action.get("text") or choice.title))
        return self._event(account, customer, "postback", postback={"data": choice.value})

    def media(
        self, account: Account, customer: str, media: MediaFile, caption: str | None
    ) -> Webhook:
        message_id = self.sim.ids.digits(18)
        account.state.setdefault("contents", {})[message_id] = media.id
        message = {
            "type": "image",
            "id": message_id,
            "quoteToken": self.sim.ids.token(64),
            "contentProvider": {"type": "line"},
        }
        return self._event(account, customer, "message", message=message)

    async def verify_webhook(self, client: httpx.AsyncClient, account: Account) -> None:
        """The console's "Verify": a signed request without events that must get 200."""
        hook = self._events(account, [], "verify")
        response = await client.post(hook.url, content=hook.body, headers=hook.headers)
        if response.status_code != 200:
            raise WebhookRefused(f"webhook verification failed: HTTP {response.status_code}")


def _validate(messages: Any) -> None:
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        raise invalid([("messages", "Size must be between 1 and 5")])
    problems: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in MESSAGE_TYPES:
            problems.append((f"{where}.type", "Invalid message type"))
            continue
        if kind == "text":
            text = message.get("text")
            if not isinstance(text, str) or not text:
                problems.append((f"{where}.text", "May not be empty"))
            elif len(text) > 5000:
                problems.append((f"{where}.text", "Length must be between 0 and 5000"))
        if kind == "image":
            for key in ("originalContentUrl", "previewImageUrl"):
                url = message.get(key)
                if not isinstance(url, str) or not url.startswith("https://"):
                    problems.append((f"{where}.{key}", "Must be a valid HTTPS URL"))
        if kind == "location":
            for key in ("title", "address", "latitude", "longitude"):
                if message.get(key) in (None, ""):
                    problems.append((f"{where}.{key}", "May not be empty"))
        if kind == "flex" and not (message.get("altText") and message.get("contents")):
            problems.append((f"{where}.altText", "May not be empty"))
        items = (message.get("quickReply") or {}).get("items") or []
        if len(items) > 13:
            problems.append((f"{where}.quickReply.items", "Size must be between 1 and 13"))
        for number, item in enumerate(items):
            action = item.get("action") or {}
            label = action.get("label")
            if not isinstance(label, str) or not 1 <= len(label) <= 20:
                problems.append(
                    (
                        f"{where}.quickReply.items[{number}].action.label",
                        "Length must be between 1 and 20",
                    )
                )
            if (
                action.get("type") == "postback"
                and not 1 <= len(str(action.get("data", ""))) <= 300
            ):
                problems.append(
                    (
                        f"{where}.quickReply.items[{number}].action.data",
                        "Length must be between 1 and 300",
                    )
                )
    if problems:
        raise invalid(problems)


def _summary(
    messages: list[dict[str, Any]],
) -> tuple[str, str | None, list[Choice], dict[str, dict[str, Any]]]:
    """(kind, text, options, actions by choice value) of a push's messages."""
    texts = [m["text"] for m in messages if m.get("type") == "text"]
    options: list[Choice] = []
    actions: dict[str, dict[str, Any]] = {}
    for message in messages:
        for item in (message.get("quickReply") or {}).get("items") or []:
            action = item.get("action") or {}
            if action.get("type") == "postback":
                value = str(action["data"])
            elif action.get("type") == "message":
                value = "message:" + str(action.get("text"))
            else:
                continue
            options.append(Choice(str(action.get("label")), value))
            actions[value] = action
    kinds = {m.get("type") for m in messages}
    if options:
        kind = "buttons"
    elif "flex" in kinds:
        kind = "card"
    elif kinds & {"image", "video", "audio"}:
        kind = "media"
    elif "location" in kinds:
        kind = "location"
    else:
        kind = "text"
    return kind, "\n".join(texts) or None, options, actions
