"""Telegram's Bot API: ``/bot<token>/<method>`` calls and ``Update`` webhooks.

Methods: ``sendMessage``, ``sendPhoto``/``sendVideo``/``sendAudio``/``sendDocument``,
``sendLocation``, ``sendVenue``, ``sendContact``, ``answerCallbackQuery``, ``getFile`` (and
``/file/bot<token>/<file_path>`` downloads), ``getMe``, ``setWebhook`` (URL and
``secret_token``, as a bot owner registers the webhook), ``deleteWebhook``. Parameters are
accepted as JSON or form fields, as the Bot API does. Answers: ``{"ok": true, "result":
Message}``, errors ``{"ok": false, "error_code", "description"[, "parameters": {"retry_after"}]}``.

Webhooks carry ``X-Telegram-Bot-Api-Secret-Token`` (Telegram does not sign bodies). A tap on an
inline button is a ``callback_query`` with the bot's message (and its keyboard) attached.
Telegram sends no delivery receipts.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any
from urllib.parse import parse_qsl

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
    compact,
)

SEND_METHODS = {
    "sendMessage": "text",
    "sendPhoto": "photo",
    "sendVideo": "video",
    "sendAudio": "audio",
    "sendDocument": "document",
    "sendLocation": "location",
    "sendVenue": "venue",
    "sendContact": "contact",
}
STATUS_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
SECRET_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def failure(status: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=status)


def bad_request(description: str) -> Refusal:
    return Refusal(failure(400, f"Bad Request: {description}"))


class Telegram(Provider):
    name = "telegram"
    title = "Telegram Bot API"
    send_faults = frozenset(
        {"rate_limited", "server_error", "timeout", "opted_out", "invalid_recipient"}
    )

    def new_account(self, rand: Rand) -> Account:
        bot_id = rand.digits(10)
        token = f"{bot_id}:AA" + rand.token(33)
        settings = {"bot_token": token, "secret_token": rand.token(32)}
        bot = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": "Sim Shop",
            "username": f"sim_shop_{bot_id[-4:]}_bot",
        }
        state: dict[str, Any] = {"bot": bot, "secret_token": settings["secret_token"]}
        return Account(self.name, token, settings, state=state)

    def new_customer(self, rand: Rand, **options: Any) -> str:
        return rand.digits(10, "1234567")

    def routes(self) -> list[BaseRoute]:
        return [
            Route(
                "/file/bot{token}/{file_path:path}",
                self.endpoint("file", self._file),
                methods=["GET"],
            ),
            Route("/bot{token}/{method}", self._method, methods=["GET", "POST"]),
        ]

    # -- the Bot API ---------------------------------------------------------------------------

    async def _method(self, request: Request) -> Response:
        method = request.path_params["method"]
        return await self.endpoint(method, self._call)(request)

    def _account(self, request: Request) -> Account:
        account = self.sim.account(self.name, request.path_params["token"])
        if account is None:
            raise Refusal(failure(401, "Unauthorized"), "unauthorized")
        request.state.account = account.key
        return account

    async def _params(self, request: Request) -> dict[str, Any]:
        """Bot API parameters: query string, then a JSON or form body (values JSON-decoded)."""
        params: dict[str, Any] = dict(request.query_params)
        raw = await request.body()
        if "json" in request.headers.get("content-type", ""):
            try:
                data = json.loads(raw)
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if isinstance(data, dict):
                params.update(data)
        elif raw:
            if "multipart/form-data" in request.headers.get("content-type", ""):
                form = await request.form()
                fields: list[tuple[str, Any]] = [(k, v) for k, v in form.multi_items()]
            else:
                fields = parse_qsl(raw.decode(), keep_blank_values=True)
            for key, value in fields:
                params[key] = _decoded(value) if isinstance(value, str) else value
        return params

    async def _call(self, request: Request) -> Response:
        account = self._account(request)
        method = request.path_params["method"]
        params = await self._params(request)
        if method in SEND_METHODS:
            return await self._send(request, account, method, params)
        if method == "getFile":
            return self._get_file(account, params)
        if method == "answerCallbackQuery":
            if not params.get("callback_query_id"):
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            return JSONResponse({"ok": True, "result": True})
        if method == "getMe":
            return JSONResponse({"ok": True, "result": account.state["bot"]})
        if method == "setWebhook":
            return self._set_webhook(account, params)
        if method == "deleteWebhook":
            account.webhook_url = None
            return JSONResponse({"ok": True, "result": True, "description": "Webhook was deleted"})
        raise Refusal(failure(404, "Not Found"), "not_found")

    def _set_webhook(self, account: Account, params: dict[str, Any]) -> Response:
        url = params.get("url")
        secret = params.get("secret_token")
        if not isinstance(url, str) or not url:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and (
            not isinstance(secret, str)
            or not 1 <= len(secret) <= 256
            or not set(secret) <= SECRET_ALPHABET
        ):
            raise bad_request("secret token contains unallowed characters")
        account.webhook_url = url
        account.state["secret_token"] = secret or ""
        return JSONResponse({"ok": True, "result": True, "description": "Webhook was set"})

    async def _send(
        self, request: Request, account: Account, method: str, params: dict[str, Any]
    ) -> Response:
        chat = params.get("chat_id")
        if chat in (None, ""):
            raise bad_request("chat_id is empty")
        chat_id = int(chat) if isinstance(chat, str) and chat.lstrip("-").isdigit() else chat
        kind, text, options = _validate(method, params)
        recipient = str(chat_id)

        def accept() -> tuple[Sent, Response]:
            message_id = self.sim.counter(account, f"chat:{recipient}", 2)
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": account.state["bot"],
                "chat": {"id": chat_id, "first_name": "Sim", "type": "private"},
                "date": int(time.time()),
            }
            message.update(_message_fields(method, params, self.sim.ids))
            sent = Sent(
                self.name,
                account.key,
                recipient,
                f"{chat_id}:{message_id}",
                kind,
                text,
                options,
                params,
                context={"message": message},
            )
            return sent, JSONResponse({"ok": True, "result": message})

        return await self.sim.deliver(self, account, recipient, request, accept)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limited":
            wait = max(1, math.ceil(fault.retry_after if fault.retry_after is not None else 5))
            return failure(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        if fault.kind == "opted_out":
            return failure(403, "Forbidden: bot was blocked by the user")
        if fault.kind == "invalid_recipient":
            return failure(400, "Bad Request: chat not found")
        status = fault.status or 502
        return failure(status, STATUS_TEXT.get(status, "Internal Server Error"))

    def malformed(self, detail: str) -> Response:
        return failure(400, "Bad Request: can't parse request parameters")

    def _get_file(self, account: Account, params: dict[str, Any]) -> Response:
        files: dict[str, tuple[str, str]] = account.state.setdefault("files", {})
        entry = files.get(str(params.get("file_id", "")))
        media = self.sim.media_file(entry[0]) if entry else None
        if entry is None or media is None:
            raise bad_request("invalid file_id")
        result = {
            "file_id": params["file_id"],
            "file_unique_id": "AQAD" + media.id[:12],
            "file_size": len(media.data),
            "file_path": entry[1],
        }
        return JSONResponse({"ok": True, "result": result})

    async def _file(self, request: Request) -> Response:
        account = self._account(request)
        path = request.path_params["file_path"]
        files: dict[str, tuple[str, str]] = account.state.setdefault("files", {})
        for media_id, file_path in files.values():
            if file_path == path:
                media = self.sim.media_file(media_id)
                if media is not None:
                    return Response(media.data, media_type=media.mime_type)
        return failure(404, "Not Found")

    # -- webhooks ------------------------------------------------------------------------------

    def _user(self, customer: str) -> dict[str, Any]:
        return {
            "id": int(customer),
            "is_bot": False,
            "first_name": "Sim",
            "last_name": f"Customer {customer[-4:]}",
            "username": f"sim_{customer[-6:]}",
            "language_code": "en",
        }

    def _update(self, account: Account, payload: dict[str, Any]) -> Webhook:
        update = {"update_id": self.sim.counter(account, "update_id", 100_000_000), **payload}
        body = compact(update, ascii_only=False)
        headers = {"content-type": "application/json"}
        if account.state.get("secret_token"):
            headers["x-telegram-bot-api-secret-token"] = account.state["secret_token"]
        return Webhook(account.webhook_url or "", body, headers)

    def _message(self, account: Account, customer: str, **content: Any) -> Webhook:
        user = self._user(customer)
        chat = {k: user[k] for k in ("id", "first_name", "last_name", "username")}
        message = {
            "message_id": self.sim.counter(account, f"chat:{customer}", 2),
            "from": user,
            "chat": {**chat, "type": "private"},
            "date": int(time.time()),
            **content,
        }
        return self._update(account, {"message": message})

    def text(self, account: Account, customer: str, text: str) -> Webhook:
        return self._message(account, customer, text=text)

    def reply(self, account: Account, customer: str, sent: Sent, choice: Choice) -> Webhook:
        query = {
            "id": self.sim.ids.digits(19),
            "from": self._user(customer),
            "message": sent.context["message"],
            "chat_instance": str(-self.sim.ids.integer(10**17, 10**18)),
            "data": choice.value,
        }
        return self._update(account, {"callback_query": query})

    def media(
        self, account: Account, customer: str, media: MediaFile, caption: str | None
    ) -> Webhook:
        files: dict[str, tuple[str, str]] = account.state.setdefault("files", {})
        sizes = []
        for index, (width, height) in enumerate(((90, 90), (320, 320), (800, 800))):
            file_id = "AgACAgQAAxkBAAI" + self.sim.ids.token(60, _FILE_ID_ALPHABET)
            files[file_id] = (media.id, f"photos/file_{media.id[:8]}_{index}.png")
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": "AQAD" + self.sim.ids.token(12),
                    "file_size": len(media.data),
                    "width": width,
                    "height": height,
                }
            )
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._message(account, customer, **content)


_FILE_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _decoded(value: str) -> Any:
    """A form value as the Bot API reads it: JSON for objects/arrays, else the string."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _validate(method: str, params: dict[str, Any]) -> tuple[str, str | None, list[Choice]]:
    """Check a send call as the Bot API does; (kind, text, options)."""
    field = SEND_METHODS[method]
    if method == "sendMessage":
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        if len(text) > 4096:
            raise bad_request("message is too long")
    elif method in ("sendLocation", "sendVenue"):
        if params.get("latitude") is None or params.get("longitude") is None:
            raise bad_request("wrong latitude or longitude")
        if method == "sendVenue" and not (params.get("title") and params.get("address")):
            raise bad_request("venue title and address are required")
    elif method == "sendContact":
        if not params.get("phone_number") or not params.get("first_name"):
            raise bad_request("phone number and first name are required")
    elif not params.get(field):
        raise bad_request(f"there is no {field} in the request")
    caption = params.get("caption")
    if isinstance(caption, str) and len(caption) > 1024:
        raise bad_request("message caption is too long")
    options = _keyboard(params.get("reply_markup"))
    text_value = params.get("text") if method == "sendMessage" else caption
    if options:
        kind = "buttons"
    elif method == "sendMessage":
        kind = "text"
    elif method in ("sendLocation", "sendVenue"):
        kind = "location"
    elif method == "sendContact":
        kind = "contact"
    else:
        kind = "media"
    return kind, text_value if isinstance(text_value, str) else None, options


def _keyboard(markup: Any) -> list[Choice]:
    if markup is None:
        return []
    if isinstance(markup, str):
        markup = _decoded(markup)
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if rows is None:
        return []
    choices = []
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if not button.get("text"):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if data is not None:
                if not 1 <= len(str(data).encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
                choices.append(Choice(button["text"], str(data)))
    return choices


def _message_fields(method: str, params: dict[str, Any], ids: Rand) -> dict[str, Any]:
    """The parts of the answered ``Message`` that echo what was sent."""
    fields: dict[str, Any] = {}
    if method == "sendMessage":
        fields["text"] = params["text"]
    elif method == "sendPhoto":
        fields["photo"] = [
            {
                "file_id": "AgACAgQAAxkDAAI" + ids.token(40),
                "file_unique_id": "AQAD" + ids.token(12),
                "file_size": 1024,
                "width": 320,
                "height": 320,
            }
        ]
    elif method in ("sendVideo", "sendAudio", "sendDocument"):
        key = SEND_METHODS[method]
        fields[key] = {
            "file_id": "BAACAgQAAxkDAAI" + ids.token(40),
            "file_unique_id": ids.token(12),
        }
    elif method in ("sendLocation", "sendVenue"):
        point = {"latitude": float(params["latitude"]), "longitude": float(params["longitude"])}
        fields["location"] = point
        if method == "sendVenue":
            fields["venue"] = {
                "location": point,
                "title": params["title"],
                "address": params["address"],
            }
    elif method == "sendContact":
        fields["contact"] = {
            "phone_number": params["phone_number"],
            "first_name": params["first_name"],
        }
    if params.get("caption"):
        fields["caption"] = params["caption"]
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        markup = _decoded(markup)
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        fields["reply_markup"] = markup
    return fields
