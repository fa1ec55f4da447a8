"""Meta's Graph API as WhatsApp Cloud API, Messenger and Instagram see it.

WhatsApp: ``POST /{version}/{phone_number_id}/messages`` (Bearer access token) answers
``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid…"}]}``;
``GET /{version}/{media_id}`` answers the media's short-lived download URL, which needs the same
token. Webhooks: ``whatsapp_business_account`` envelopes with ``messages`` and ``statuses``
(sent, delivered, read; failed with the Cloud API error code).

Messenger / Instagram: ``POST /{version}/me/messages?access_token=<page token>`` answers
``{"recipient_id", "message_id"}``. Webhooks: ``page`` / ``instagram`` envelopes with
``messaging[]`` events; Messenger reports ``delivery`` (with mids) and ``read`` (a watermark),
Instagram ``read`` with the mid (``messaging_seen``).

Every webhook carries ``X-Hub-Signature-256`` (and the legacy SHA-1 ``X-Hub-Signature``, as
Meta sends both), HMAC of the raw body with the app secret; JSON is compact and non-ASCII is
``\\u``-escaped, as Meta signs it. Registering a webhook runs Meta's ``hub.challenge`` GET.
Errors are Graph errors ``{"error": {"message", "type", "code", "error_subcode",
"error_data", "fbtrace_id"}}`` with Meta's codes (130429 throughput, 131047 re-engagement
window, 10/2018278 outside the messaging window, 613 rate limit, 551 unavailable person, …).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any, ClassVar
from urllib.parse import urlencode

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

VERSION = re.compile(r"v\d{1,3}\.\d{1,3}")


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    details: str | None = None,
    whatsapp: bool = False,
    transient: bool | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    """A Graph API error answer."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    if whatsapp:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or message}
    error["fbtrace_id"] = "A" + Rand().token(22)
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def meta_headers(app_secret: str, body: bytes) -> dict[str, str]:
    """The headers Meta signs a webhook with (SHA-256, plus the legacy SHA-1)."""
    key = app_secret.encode()
    return {
        "content-type": "application/json",
        "user-agent": "facebookexternalua",
        "x-hub-signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
        "x-hub-signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


async def hub_challenge(client: httpx.AsyncClient, url: str, verify_token: str) -> None:
    """Meta's subscription check: the endpoint must echo ``hub.challenge``."""
    challenge = str(Rand().integer(10**8, 10**10))
    query = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
    separator = "&" if "?" in url else "?"
    response = await client.get(url + separator + urlencode(query))
    if response.status_code != 200 or response.text != challenge:
        raise WebhookRefused(
            f"callback URL verification failed: HTTP {response.status_code} {response.text[:100]!r}"
        )


def _version(request: Request) -> None:
    if not VERSION.fullmatch(request.path_params.get("version", "")):
        raise Refusal(
            graph_error(400, 2500, "Unknown path components: /" + request.url.path.split("/")[2]),
            "not_found",
        )


def _now() -> int:
    return int(time.time())


# ============================================================================================
# WhatsApp Cloud API
# ============================================================================================

WA_TYPES = frozenset(
    {
        "text",
        "image",
        "video",
        "audio",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "template",
        "reaction",
    }
)


class WhatsApp(Provider):
    name = "whatsapp"
    title = "WhatsApp Cloud API"
    send_faults = frozenset(
        {"rate_limited", "server_error", "timeout", "window_closed", "invalid_recipient"}
    )
    receipt_faults = frozenset({"window_closed", "opted_out", "invalid_recipient", "server_error"})

    RECEIPT_ERRORS: ClassVar[dict[str, tuple[int, str, str]]] = {
        "window_closed": (
            131047,
            "Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer "
            "last replied to this number.",
        ),
        "opted_out": (
            131050,
            "Unable to deliver the message. This recipient has chosen to stop receiving "
            "marketing messages on WhatsApp from your business.",
            "Unable to deliver the message. This recipient has chosen to stop receiving "
            "marketing messages on WhatsApp from your business.",
        ),
        "invalid_recipient": (
            131026,
            "Message Undeliverable.",
            "Unable to deliver message. Reasons can include: the recipient phone number is not "
            "a WhatsApp phone number.",
        ),
        "server_error": (
            131000,
            "Something went wrong",
            "Message failed to send due to an unknown error.",
        ),
    }

    def new_account(self, rand: Rand) -> Account:
        phone_number_id = rand.digits(15)
        settings = {
            "app_secret": rand.hex(32),
            "access_token": "EAAG" + rand.token(120),
            "phone_number_id": phone_number_id,
            "verify_token": rand.token(24),
        }
        state = {"waba_id": rand.digits(15), "display_phone_number": "1555" + rand.digits(7, "0")}
        return Account(self.name, phone_number_id, settings, state=state)

    def new_customer(self, rand: Rand, **options: Any) -> str:
        return "316" + rand.digits(8)

    def routes(self) -> list[BaseRoute]:
        return [
            Route(
                "/{version}/{phone_number_id}/messages",
                self.endpoint("messages", self._messages),
                methods=["POST"],
            ),
            Route(
                "/{version}/{phone_number_id}/media",
                self.endpoint("upload", self._upload),
                methods=["POST"],
            ),
            Route("/media/{media_id}", self.endpoint("download", self._download), methods=["GET"]),
            Route("/{version}/{media_id}", self.endpoint("media", self._media), methods=["GET"]),
        ]

    # -- send API ------------------------------------------------------------------------------

    def _account(self, request: Request, phone_number_id: str | None) -> Account:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        account = (
            self.sim.account(self.name, phone_number_id)
            if phone_number_id
            else self.sim.find_account(self.name, lambda a: a.settings["access_token"] == token)
        )
        if not token or (account is not None and account.settings["access_token"] != token):
            raise Refusal(
                graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token"),
                "unauthorized",
            )
        if account is None:
            raise Refusal(
                graph_error(
                    400,
                    100,
                    f"Unsupported post request. Object with ID '{phone_number_id}' does not "
                    "exist, cannot be loaded due to missing permissions, or does not support "
                    "this operation.",
                    subcode=33,
                ),
                "not_found",
            )
        request.state.account = account.key
        return account

    async def _messages(self, request: Request) -> Response:
        _version(request)
        account = self._account(request, request.path_params["phone_number_id"])
        body = await json_object(request)
        if body.get("status") == "read" and body.get("message_id"):
            return JSONResponse({"success": True})
        sent_kind, text, options = _wa_validate(body)
        recipient = str(body.get("to") or body.get("recipient"))

        def accept() -> tuple[Sent, Response]:
            wamid = "wamid.HBgM" + self.sim.ids.b64(36).rstrip("=")
            sent = Sent(self.name, account.key, recipient, wamid, sent_kind, text, options, body)
            answer = {
                "messaging_product": "whatsapp",
                "contacts": [{"input": recipient, "wa_id": recipient}],
                "messages": [{"id": wamid}],
            }
            return sent, JSONResponse(answer)

        return await self.sim.deliver(self, account, recipient, request, accept)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limited":
            return graph_error(
                400,
                130429,
                "(#130429) Rate limit hit",
                details="Cloud API message throughput has been reached.",
                whatsapp=True,
                retry_after=fault.retry_after,
            )
        if fault.kind == "window_closed":
            code, title, details = self.RECEIPT_ERRORS["window_closed"]
            return graph_error(400, code, f"(#{code}) {title}", details=details, whatsapp=True)
        if fault.kind == "invalid_recipient":
            code, title, details = self.RECEIPT_ERRORS["invalid_recipient"]
            return graph_error(400, code, f"(#{code}) {title}", details=details, whatsapp=True)
        code, title, details = self.RECEIPT_ERRORS["server_error"]
        return graph_error(
            fault.status or 500, code, f"(#{code}) {title}", details=details, whatsapp=True
        )

    def malformed(self, detail: str) -> Response:
        return graph_error(400, 100, "(#100) Invalid parameter", details=detail, whatsapp=True)

    async def _upload(self, request: Request) -> Response:
        """Media upload: multipart ``file``, ``type`` and ``messaging_product=whatsapp``."""
        _version(request)
        self._account(request, request.path_params["phone_number_id"])
        async with request.form() as form:
            upload = form.get("file")
            if (
                form.get("messaging_product") != "whatsapp"
                or upload is None
                or isinstance(upload, str)
            ):
                answer = self.malformed("file, type and messaging_product are required")
                raise Refusal(answer, "invalid")
            data = await upload.read()
            mime = str(form.get("type") or upload.content_type or "application/octet-stream")
            media = self.sim.store_media(data, mime, upload.filename or "upload")
        return JSONResponse({"id": media.id})

    async def _media(self, request: Request) -> Response:
        _version(request)
        self._account(request, None)
        media = self.sim.media_file(request.path_params["media_id"])
        if media is None:
            raise Refusal(
                graph_error(
                    400,
                    100,
                    f"Unsupported get request. Object with ID '{request.path_params['media_id']}' "
                    "does not exist, cannot be loaded due to missing permissions, or does not "
                    "support this operation.",
                    subcode=33,
                ),
                "not_found",
            )
        digest = base64.b64encode(hashlib.sha256(media.data).digest()).decode()
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": self.media_url(f"media/{media.id}?ext={_now()}&hash={digest[:12]}"),
                "mime_type": media.mime_type,
                "sha256": digest,
                "file_size": len(media.data),
                "id": media.id,
            }
        )

    async def _download(self, request: Request) -> Response:
        self._account(request, None)
        media = self.sim.media_file(request.path_params["media_id"])
        if media is None:
            return Response(status_code=404)
        return Response(media.data, media_type=media.mime_type)

    # -- webhooks ------------------------------------------------------------------------------

    def _envelope(self, account: Account, key: str, items: list[Any], **extra: Any) -> Webhook:
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": account.state["display_phone_number"],
                "phone_number_id": account.settings["phone_number_id"],
            },
            **extra,
            key: items,
        }
        data = {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": account.state["waba_id"], "changes": [{"value": value, "field": "messages"}]}
            ],
        }
        body = compact(data)
        kind = "message" if key == "messages" else "receipt"
        return Webhook(
            account.webhook_url or "",
            body,
            meta_headers(account.settings["app_secret"], body),
            kind,
        )

    def _message(
        self, account: Account, customer: str, message: dict[str, Any], name: str = "Sim Customer"
    ) -> Webhook:
        message = {
            "from": customer,
            "id": "wamid.HBgM" + self.sim.ids.b64(36).rstrip("="),
            "timestamp": str(_now()),
            **message,
        }
        contacts = [{"profile": {"name": name}, "wa_id": customer}]
        return self._envelope(account, "messages", [message], contacts=contacts)

    def text(self, account: Account, customer: str, text: str) -> Webhook:
        return self._message(account, customer, {"type": "text", "text": {"body": text}})

    def reply(self, account: Account, customer: str, sent: Sent, choice: Choice) -> Webhook:
        context = {"from": account.state["display_phone_number"], "id": sent.message_id}
        if sent.kind == "template":
            button = {"payload": choice.value, "text": choice.title}
            return self._message(
                account, customer, {"context": context, "type": "button", "button": button}
            )
        kind = "list_reply" if sent.kind == "list" else "button_reply"
        interactive = {"type": kind, kind: {"id": choice.value, "title": choice.title}}
        return self._message(
            account,
            customer,
            {"context": context, "type": "interactive", "interactive": interactive},
        )

    def media(
        self, account: Account, customer: str, media: MediaFile, caption: str | None
    ) -> Webhook:
        digest = base64.b64encode(hashlib.sha256(media.data).digest()).decode()
        image: dict[str, Any] = {"mime_type": media.mime_type, "sha256": digest, "id": media.id}
        if caption:
            image["caption"] = caption
        return self._message(account, customer, {"type": "image", "image": image})

    def receipts(self, account: Account, sent: Sent, failure: Fault | None) -> list[Webhook]:
        if not account.webhook_url:
            return []
        conversation = {"id": self.sim.ids.hex(32), "origin": {"type": "service"}}
        pricing = {"billable": True, "pricing_model": "CBP", "category": "service"}

        def status(state: str, **extra: Any) -> Webhook:
            item = {
                "id": sent.message_id,
                "status": state,
                "timestamp": str(_now()),
                "recipient_id": sent.recipient,
                **extra,
            }
            return self._envelope(account, "statuses", [item])

        if failure is not None:
            code, title, details = self.RECEIPT_ERRORS[failure.kind]
            error = {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
            return [status("failed", errors=[error])]
        sent_conversation = {**conversation, "expiration_timestamp": str(_now() + 86400)}
        return [
            status("sent", conversation=sent_conversation, pricing=pricing),
            status("delivered", conversation=conversation, pricing=pricing),
            status("read", conversation=conversation, pricing=pricing),
        ]

    async def verify_webhook(self, client: httpx.AsyncClient, account: Account) -> None:
        assert account.webhook_url
        await hub_challenge(client, account.webhook_url, account.settings["verify_token"])


def _wa_error(details: str, code: int = 131009) -> Refusal:
    message = (
        "(#100) Invalid parameter" if code == 100 else "(#131009) Parameter value is not valid"
    )
    return Refusal(graph_error(400, code, message, details=details, whatsapp=True))


def _wa_validate(body: dict[str, Any]) -> tuple[str, str | None, list[Choice]]:
    """Check a ``/messages`` body as the Cloud API does; (kind, text, options) of the message."""
    if body.get("messaging_product") != "whatsapp":
        raise _wa_error("The parameter messaging_product is required.", 100)
    if not body.get("to") and not body.get("recipient"):
        raise _wa_error("The parameter to is required.", 100)
    kind = body.get("type", "text")
    if kind not in WA_TYPES:
        raise _wa_error(f"Unsupported message type: {kind}")
    part = body.get(kind)
    if not isinstance(part, dict | list):
        raise _wa_error(f"The parameter {kind} is required.", 100)
    if kind == "text":
        text = part.get("body") if isinstance(part, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise _wa_error("The parameter text['body'] is required.", 100)
        if len(text) > 4096:
            raise _wa_error("Param text['body'] must be at most 4096 characters long.")
        return "text", text, []
    if kind in ("image", "video", "audio", "document", "sticker"):
        if not isinstance(part, dict) or not (part.get("link") or part.get("id")):
            raise _wa_error(f"Param {kind} must contain either 'id' or 'link'.", 100)
        return "media", part.get("caption"), []
    if kind == "interactive":
        return _wa_interactive(part)
    if kind == "template":
        return _wa_template(part)
    return kind if kind in ("location", "contacts") else "other", None, []


def _wa_interactive(part: Any) -> tuple[str, str | None, list[Choice]]:
    if not isinstance(part, dict):
        raise _wa_error("The parameter interactive is required.", 100)
    kind = part.get("type")
    text = (part.get("body") or {}).get("text")
    action = part.get("action") or {}
    if kind == "button":
        buttons = action.get("buttons") or []
        if not 1 <= len(buttons) <= 3:
            raise _wa_error("Param interactive['action']['buttons'] must have 1 to 3 elements.")
        choices = [Choice(b["reply"]["title"], b["reply"]["id"]) for b in buttons]
        if any(len(c.title) > 20 or not c.title for c in choices):
            raise _wa_error("Button title length invalid. Min length: 1, Max length: 20")
        if len({c.title for c in choices}) != len(choices):
            raise _wa_error("Button title must be unique.")
        return "buttons", text, choices
    if kind == "list":
        rows = [row for section in action.get("sections") or [] for row in section["rows"]]
        if not 1 <= len(rows) <= 10:
            raise _wa_error("Total row count exceed max allowed count: 10")
        if len(action.get("button") or "") > 20:
            raise _wa_error("Button title length invalid. Min length: 1, Max length: 20")
        if any(len(row["title"]) > 24 for row in rows):
            raise _wa_error("Row title length invalid. Min length: 1, Max length: 24")
        return "list", text, [Choice(row["title"], row["id"]) for row in rows]
    return "card" if kind in ("product", "product_list") else "other", text, []


def _wa_template(part: Any) -> tuple[str, str | None, list[Choice]]:
    if not isinstance(part, dict) or not part.get("name") or not part.get("language"):
        raise _wa_error("The parameter template['name'] and ['language'] are required.", 100)
    choices = [
        Choice(p["payload"], p["payload"])
        for component in part.get("components") or []
        if component.get("type") == "button" and component.get("sub_type") == "quick_reply"
        for p in component.get("parameters") or []
        if p.get("type") == "payload"
    ]
    return "template", part["name"], choices


# ============================================================================================
# Messenger and Instagram
# ============================================================================================


class Messenger(Provider):
    name = "messenger"
    title = "Facebook Messenger"
    object_type: ClassVar[str] = "page"
    text_limit: ClassVar[int] = 2000
    send_faults = frozenset(
        {
            "rate_limited",
            "server_error",
            "timeout",
            "window_closed",
            "opted_out",
            "invalid_recipient",
        }
    )

    def new_account(self, rand: Rand) -> Account:
        page_id = rand.digits(15)
        token = "EAAB" + rand.token(120)
        settings = {
            "app_secret": rand.hex(32),
            "page_access_token": token,
            "page_id": page_id,
            "verify_token": rand.token(24),
        }
        return Account(self.name, token, settings)

    def new_customer(self, rand: Rand, **options: Any) -> str:
        return rand.digits(16)

    def account_id(self, account: Account) -> str:
        """The entry id of webhooks and the recipient id of customer messages."""
        return account.settings["page_id"]

    def new_mid(self) -> str:
        return "m_" + self.sim.ids.token(
            86, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route(
                "/{version}/me/messages",
                self.endpoint("messages", self._messages),
                methods=["POST"],
            ),
            Route("/cdn/{media_id}", self.endpoint("cdn", self._cdn), methods=["GET"]),
        ]

    async def _messages(self, request: Request) -> Response:
        _version(request)
        token = request.query_params.get("access_token", "")
        account = self.sim.find_account(self.name, lambda a: a.key == token) if token else None
        if account is None:
            raise Refusal(
                graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token"),
                "unauthorized",
            )
        request.state.account = account.key
        body = await json_object(request)
        kind, text, options = self._validate(body)
        recipient = str(body["recipient"]["id"])

        def accept() -> tuple[Sent, Response]:
            mid = self.new_mid()
            sent = Sent(self.name, account.key, recipient, mid, kind, text, options, body)
            return sent, JSONResponse({"recipient_id": recipient, "message_id": mid})

        return await self.sim.deliver(self, account, recipient, request, accept)

    def _validate(self, body: dict[str, Any]) -> tuple[str, str | None, list[Choice]]:
        def invalid(message: str, subcode: int | None = None) -> Refusal:
            return Refusal(graph_error(400, 100, f"(#100) {message}", subcode=subcode))

        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or not recipient.get("id"):
            raise invalid("The parameter recipient is required")
        messaging_type = body.get("messaging_type", "RESPONSE")
        if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            raise invalid("Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
        if messaging_type == "MESSAGE_TAG" and not body.get("tag"):
            raise invalid("Param tag is required when messaging_type is MESSAGE_TAG")
        message = body.get("message")
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            raise invalid("Must send either message or sender action")
        text = message.get("text")
        if isinstance(text, str) and len(text) > self.text_limit:
            raise invalid(
                f"Length of param message[text] must be less than or equal to {self.text_limit}"
            )
        replies = message.get("quick_replies") or []
        if len(replies) > 13:
            raise invalid("param message[quick_replies] must have at most 13 elements")
        for index, reply in enumerate(replies):
            kind = reply.get("content_type")
            if kind not in ("text", "user_phone_number", "user_email"):
                raise invalid(
                    f"param message[quick_replies][{index}][content_type] must be one of "
                    "{text, user_phone_number, user_email}"
                )
            if kind == "text" and not (reply.get("title") and reply.get("payload")):
                raise invalid(f"param message[quick_replies][{index}] needs title and payload")
            if len(reply.get("title", "")) > 20:
                raise invalid("Quick reply title must be at most 20 characters")
        if replies:
            options = [Choice(r["title"], r["payload"]) for r in replies if r.get("payload")]
            return "buttons", text, options
        attachment = message.get("attachment")
        if isinstance(attachment, dict):
            payload = attachment.get("payload") or {}
            if attachment.get("type") == "template":
                return _template_options(payload)
            if not payload.get("url") and not payload.get("attachment_id"):
                raise invalid("param message[attachment][payload][url] is required")
            return "media", None, []
        return "text", text, []

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limited":
            return graph_error(
                400,
                613,
                "(#613) Calls to this api have exceeded the rate limit.",
                retry_after=fault.retry_after,
            )
        if fault.kind == "window_closed":
            return graph_error(
                400,
                10,
                "(#10) This message is sent outside of allowed window. Learn more about the new "
                "policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
                subcode=2018278,
            )
        if fault.kind == "opted_out":
            return graph_error(
                400, 551, "(#551) This person isn't available right now.", subcode=1545041
            )
        if fault.kind == "invalid_recipient":
            return graph_error(400, 100, "(#100) No matching user found", subcode=2018001)
        return graph_error(
            fault.status or 500,
            2,
            "An unexpected error has occurred. Please retry your request later.",
            transient=True,
        )

    def malformed(self, detail: str) -> Response:
        return graph_error(400, 100, "(#100) Invalid parameter")

    async def _cdn(self, request: Request) -> Response:
        media = self.sim.media_file(request.path_params["media_id"])
        if media is None:
            return Response(status_code=404)
        return Response(media.data, media_type=media.mime_type)

    # -- webhooks ------------------------------------------------------------------------------

    def _webhook(self, account: Account, event: dict[str, Any], kind: str = "message") -> Webhook:
        now_ms = int(time.time() * 1000)
        data = {
            "object": self.object_type,
            "entry": [{"id": self.account_id(account), "time": now_ms, "messaging": [event]}],
        }
        body = compact(data)
        headers = meta_headers(account.settings["app_secret"], body)
        return Webhook(account.webhook_url or "", body, headers, kind)

    def _event(self, account: Account, customer: str, **content: Any) -> dict[str, Any]:
        return {
            "sender": {"id": customer},
            "recipient": {"id": self.account_id(account)},
            "timestamp": int(time.time() * 1000),
            **content,
        }

    def text(self, account: Account, customer: str, text: str) -> Webhook:
        message = {"mid": self.new_mid(), "text": text}
        return self._webhook(account, self._event(account, customer, message=message))

    def reply(self, account: Account, customer: str, sent: Sent, choice: Choice) -> Webhook:
        if sent.kind == "buttons" and "quick_replies" in sent.body.get("message", {}):
            message = {
                "mid": self.new_mid(),
                "text": choice.title,
                "quick_reply": {"payload": choice.value},
            }
            return self._webhook(account, self._event(account, customer, message=message))
        postback = {"title": choice.title, "payload": choice.value, "mid": self.new_mid()}
        return self._webhook(account, self._event(account, customer, postback=postback))

    def media(
        self, account: Account, customer: str, media: MediaFile, caption: str | None
    ) -> Webhook:
        url = self.media_url(f"cdn/{media.id}?_nc_cat=1&oh={self.sim.ids.hex(32)}")
        message = {
            "mid": self.new_mid(),
            "attachments": [{"type": "image", "payload": {"url": url}}],
        }
        return self._webhook(account, self._event(account, customer, message=message))

    def receipts(self, account: Account, sent: Sent, failure: Fault | None) -> list[Webhook]:
        if not account.webhook_url:
            return []
        now_ms = int(time.time() * 1000)
        delivery = {"mids": [sent.message_id], "watermark": now_ms}
        read = {"watermark": now_ms}
        return [
            self._webhook(
                account, self._event(account, sent.recipient, delivery=delivery), "receipt"
            ),
            self._webhook(account, self._event(account, sent.recipient, read=read), "receipt"),
        ]

    async def verify_webhook(self, client: httpx.AsyncClient, account: Account) -> None:
        assert account.webhook_url
        await hub_challenge(client, account.webhook_url, account.settings["verify_token"])


def _template_options(payload: dict[str, Any]) -> tuple[str, str | None, list[Choice]]:
    """Generic template (cards) and button template: their postback buttons are the options."""
    template = payload.get("template_type")
    if template == "generic":
        buttons = [b for e in payload.get("elements") or [] for b in e.get("buttons") or []]
        options = [Choice(b["title"], b["payload"]) for b in buttons if b.get("type") == "postback"]
        return "card", None, options
    buttons = payload.get("buttons") or []
    options = [Choice(b["title"], b["payload"]) for b in buttons if b.get("type") == "postback"]
    return "buttons", payload.get("text"), options


class Instagram(Messenger):
    """Instagram Direct through the Messenger API for Instagram (same Send API, IG ids)."""

    name = "instagram"
    title = "Instagram Direct"
    object_type = "instagram"
    text_limit = 1000

    def new_account(self, rand: Rand) -> Account:
        account = super().new_account(rand)
        account.provider = self.name
        account.settings["instagram_account_id"] = "1784" + rand.digits(13, "0")
        return account

    def new_customer(self, rand: Rand, **options: Any) -> str:
        return rand.digits(17)

    def account_id(self, account: Account) -> str:
        return account.settings["instagram_account_id"]

    def new_mid(self) -> str:
        ids = self.sim.ids
        raw = f"ig_item:1:IGMessageThread:{ids.digits(17)}:{ids.digits(39)}".encode()
        return base64.b64encode(raw).decode().rstrip("=")

    def receipts(self, account: Account, sent: Sent, failure: Fault | None) -> list[Webhook]:
        """Instagram has no delivery receipts, only ``messaging_seen`` (read, with the mid)."""
        if not account.webhook_url:
            return []
        event = self._event(account, sent.recipient, read={"mid": sent.message_id})
        return [self._webhook(account, event, "receipt")]
