"""Viber's REST Bot API: ``/pa/send_message`` out, signed callbacks in.

API: ``POST /pa/send_message`` with ``X-Viber-Auth-Token`` (or ``auth_token`` in the body) and
``{"receiver", "type", "sender": {"name"}, "min_api_version", "tracking_data", "keyboard", …}``.
Viber answers HTTP 200 for failures too: ``{"status": 0, "status_message": "ok",
"message_token": <64-bit int>, "chat_hostname", "billing_status"}`` or a non-zero status (2
invalidAuthToken, 3 badData, 5 receiverNotRegistered, 6 receiverNotSubscribed, 10 webhookNotSet,
12 tooManyRequests, …). ``POST /pa/set_webhook`` registers the webhook: Viber first posts an
``event: "webhook"`` callback there, which must get 200. Customer media are public URLs.

Callbacks carry ``X-Viber-Content-Signature`` (hex HMAC-SHA256 of the body with the auth
token). A customer's message echoes the ``tracking_data`` of the bot's last message; a tap on a
keyboard ``reply`` button is a text message with the button's ``ActionBody``. Receipts:
``delivered``, ``seen``, ``failed`` (with ``desc``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, ClassVar

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
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

STATUS_MESSAGES = {
    0: "ok",
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    10: "webhookNotSet",
    12: "tooManyRequests",
}
MESSAGE_TYPES = frozenset(
    {"text", "picture", "video", "file", "location", "contact", "sticker", "url", "rich_media"}
)
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]


def viber_status(status: int, hostname: str = "SN-CHAT-04_", **extra: Any) -> JSONResponse:
    body = {"status": status, "status_message": STATUS_MESSAGES.get(status, "error")}
    body["chat_hostname"] = hostname
    return JSONResponse({**body, **extra})


class Viber(Provider):
    name = "viber"
    title = "Viber Bot API"
    send_faults = frozenset(
        {"rate_limited", "server_error", "timeout", "opted_out", "invalid_recipient"}
    )
    receipt_faults = frozenset({"opted_out", "invalid_recipient", "server_error"})
    FAILURES: ClassVar[dict[str, str]] = {
        "opted_out": "Receiver is not subscribed to the bot",
        "invalid_recipient": "Receiver is not registered to Viber",
        "server_error": "Failed to deliver the message",
    }

    def new_account(self, rand: Rand) -> Account:
        token = "-".join(rand.hex(16) for _ in range(3))
        settings = {"auth_token": token, "sender_name": "Sim Shop"}
        state = {"id": "pa:" + rand.digits(19)}
        return Account(self.name, token, settings, state=state)

    def new_customer(self, rand: Rand, **options: Any) -> str:
        return rand.b64(16)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/pa/send_message", self.endpoint("send_message", self._send), methods=["POST"]),
            Route(
                "/pa/set_webhook", self.endpoint("set_webhook", self._set_webhook), methods=["POST"]
            ),
            Route(
                "/pa/get_account_info",
                self.endpoint("get_account_info", self._info),
                methods=["POST"],
            ),
            Route("/media/{name}", self.endpoint("media", self._media), methods=["GET"]),
        ]

    # -- the API -------------------------------------------------------------------------------

    def _account(self, request: Request, body: dict[str, Any]) -> Account:
        token = request.headers.get("x-viber-auth-token") or str(body.get("auth_token") or "")
        account = self.sim.account(self.name, token) if token else None
        if account is None:
            raise Refusal(viber_status(2), "unauthorized")
        request.state.account = account.key
        return account

    async def _send(self, request: Request) -> Response:
        body = await json_object(request)
        account = self._account(request, body)
        if not account.webhook_url:
            raise Refusal(viber_status(10))
        receiver = body.get("receiver")
        if not isinstance(receiver, str) or not receiver:
            raise Refusal(viber_status(4))
        kind, text, options = _validate(body)

        def accept() -> tuple[Sent, Response]:
            token = self.sim.ids.integer(2**62, 2**63 - 1)
            sent = Sent(
                self.name,
                account.key,
                receiver,
                str(token),
                kind,
                text,
                options,
                body,
                context={"tracking_data": body.get("tracking_data")},
            )
            return sent, viber_status(0, message_token=token, billing_status=1)

        return await self.sim.deliver(self, account, receiver, request, accept)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limited":
            response = viber_status(12)
            if fault.retry_after is not None:
                response.headers["retry-after"] = f"{fault.retry_after:g}"
            return response
        if fault.kind == "opted_out":
            return viber_status(6)
        if fault.kind == "invalid_recipient":
            return viber_status(5)
        return PlainTextResponse("Internal Server Error", status_code=fault.status or 500)

    def malformed(self, detail: str) -> Response:
        return viber_status(3)

    async def _set_webhook(self, request: Request) -> Response:
        body = await json_object(request)
        account = self._account(request, body)
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise Refusal(viber_status(1))
        account.webhook_url = url
        async with httpx.AsyncClient(timeout=10) as client:
            try:
                await self.verify_webhook(client, account)
            except (WebhookRefused, httpx.HTTPError):
                account.webhook_url = None
                raise Refusal(viber_status(1)) from None
        return viber_status(0, event_types=body.get("event_types") or EVENT_TYPES)

    async def _info(self, request: Request) -> Response:
        account = self._account(request, await json_object(request))
        return viber_status(
            0,
            id=account.state["id"],
            name=account.settings.get("sender_name", "Sim Shop"),
            uri="simshop",
            category="Shopping",
            webhook=account.webhook_url or "",
            event_types=EVENT_TYPES,
            subscribers_count=0,
        )

    async def _media(self, request: Request) -> Response:
        media = self.sim.media_file(request.path_params["name"].split(".", 1)[0])
        if media is None:
            return Response(status_code=404)
        return Response(media.data, media_type=media.mime_type)

    # -- callbacks -----------------------------------------------------------------------------

    def _callback(self, account: Account, data: dict[str, Any], kind: str = "message") -> Webhook:
        body = compact(
            {"timestamp": int(time.time() * 1000), "chat_hostname": "SN-CHAT-04_", **data},
            ascii_only=False,
        )
        signature = hmac.new(account.key.encode(), body, hashlib.sha256).hexdigest()
        headers = {"content-type": "application/json", "x-viber-content-signature": signature}
        return Webhook(account.webhook_url or "", body, headers, kind)

    def _tracking(self, account: Account, customer: str, answered: Sent | None) -> str | None:
        """Viber returns the ``tracking_data`` of the bot's last message with the reply."""
        sent = [s for s in self.sim.sent_to(self.name, customer) if s.account == account.key]
        last = sent[-1] if sent else answered
        return last.context.get("tracking_data") if last is not None else None

    def _message(
        self,
        account: Account,
        customer: str,
        message: dict[str, Any],
        answered: Sent | None = None,
    ) -> Webhook:
        tracking = self._tracking(account, customer, answered)
        if tracking:
            message = {**message, "tracking_data": tracking}
        data = {
            "event": "message",
            "message_token": self.sim.ids.integer(2**62, 2**63 - 1),
            "sender": {
                "id": customer,
                "name": f"Sim Customer {customer[:4]}",
                "avatar": self.media_url("avatar.jpg"),
                "language": "en",
                "country": "NL",
                "api_version": 10,
            },
            "message": message,
            "silent": False,
        }
        return self._callback(account, data)

    def text(self, account: Account, customer: str, text: str) -> Webhook:
        return self._message(account, customer, {"text": text, "type": "text"})

    def reply(self, account: Account, customer: str, sent: Sent, choice: Choice) -> Webhook:
        return self._message(account, customer, {"text": choice.value, "type": "text"}, sent)

    def media(
        self, account: Account, customer: str, media: MediaFile, caption: str | None
    ) -> Webhook:
        url = self.media_url(f"media/{media.id}.png")
        message = {
            "type": "picture",
            "text": caption or "",
            "media": url,
            "thumbnail": url,
            "file_name": media.filename,
            "file_size": len(media.data),
        }
        return self._message(account, customer, message)

    def receipts(self, account: Account, sent: Sent, failure: Fault | None) -> list[Webhook]:
        if not account.webhook_url:
            return []
        base = {"message_token": int(sent.message_id), "user_id": sent.recipient}
        if failure is not None:
            data = {"event": "failed", **base, "desc": self.FAILURES[failure.kind]}
            return [self._callback(account, data, "receipt")]
        return [
            self._callback(account, {"event": "delivered", **base}, "receipt"),
            self._callback(account, {"event": "seen", **base}, "receipt"),
        ]

    async def verify_webhook(self, client: httpx.AsyncClient, account: Account) -> None:
        """``set_webhook``'s check: a signed ``event: "webhook"`` callback must get 200."""
        data = {"event": "webhook", "message_token": self.sim.ids.integer(10**12, 10**13)}
        hook = self._callback(account, data, "verify")
        response = await client.post(hook.url, content=hook.body, headers=hook.headers)
        if response.status_code != 200:
            raise WebhookRefused(f"webhook check failed: HTTP {response.status_code}")


def _validate(body: dict[str, Any]) -> tuple[str, str | None, list[Choice]]:
    sender = body.get("sender")
    name = sender.get("name") if isinstance(sender, dict) else None
    if not isinstance(name, str) or not 1 <= len(name) <= 28:
        raise Refusal(viber_status(3))
    kind = body.get("type")
    if kind not in MESSAGE_TYPES:
        raise Refusal(viber_status(3))
    text = body.get("text")
    if kind == "text" and (not isinstance(text, str) or not text or len(text) > 7000):
        raise Refusal(viber_status(3))
    if kind == "picture" and (not body.get("media") or (isinstance(text, str) and len(text) > 512)):
        raise Refusal(viber_status(3))
    if kind == "location":
        location = body.get("location")
        if not isinstance(location, dict) or location.get("lat") is None:
            raise Refusal(viber_status(3))
    if kind == "contact":
        contact = body.get("contact")
        if not isinstance(contact, dict) or not contact.get("phone_number"):
            raise Refusal(viber_status(3))
    tracking = body.get("tracking_data")
    if tracking is not None and (not isinstance(tracking, str) or len(tracking) > 4096):
        raise Refusal(viber_status(3))
    options: list[Choice] = []
    keyboard = body.get("keyboard")
    if keyboard is not None:
        buttons = keyboard.get("Buttons") if isinstance(keyboard, dict) else None
        if keyboard.get("Type") != "keyboard" or not isinstance(buttons, list) or not buttons:
            raise Refusal(viber_status(3))
        for button in buttons:
            if not button.get("ActionBody"):
                raise Refusal(viber_status(3))
            if button.get("ActionType", "reply") == "reply":
                options.append(
                    Choice(str(button.get("Text") or button["ActionBody"]), button["ActionBody"])
                )
    if options:
        return "buttons", text if isinstance(text, str) else None, options
    kinds = {"picture": "media", "video": "media", "file": "media", "location": "location"}
    return (
        kinds.get(kind, "contact" if kind == "contact" else "text"),
        (text if isinstance(text, str) else None),
        options,
    )
