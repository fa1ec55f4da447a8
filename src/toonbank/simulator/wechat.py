"""WeChat Official Account: the customer-service message API and server-URL pushes.

API: ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` issues access tokens
(``{"access_token", "expires_in": 7200}``); ``POST /cgi-bin/message/custom/send?access_token=``
takes ``{"touser", "msgtype", …}`` (text, msgmenu, news, …). WeChat answers HTTP 200 with
``{"errcode", "errmsg"}`` for success (0) and failure alike: 40001 invalid access token, 45015
outside the 48-hour window, 43004 the user does not follow the account, 45011 minute quota,
-1 system busy. ``GET /cgi-bin/media/get`` serves a customer's media by ``MediaId``; ``PicUrl``
links are public.

Pushes to the server URL carry ``signature = sha1(sorted(token, timestamp, nonce))`` in the query.
In safe mode (the account has an ``encoding_aes_key``; the default here, as WeChat recommends)
the XML travels AES-encrypted in ``<Encrypt>`` with ``encrypt_type=aes`` and ``msg_signature =
sha1(sorted(token, timestamp, nonce, Encrypt))``. Registering the server URL runs WeChat's
``echostr`` check. A tap on a ``msgmenu`` line arrives as a text message whose ``Content`` is the
line's text, with ``bizmsgmenuid``. WeChat sends no delivery receipts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import string
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
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
)

MSG_TYPES = frozenset(
    {
        "text",
        "image",
        "voice",
        "video",
        "music",
        "news",
        "mpnews",
        "msgmenu",
        "wxcard",
        "miniprogrampage",
    }
)
ERRORS: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40125: "invalid appsecret",
    43004: "require subscribe",
    44002: "empty post data",
    44004: "empty content",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45015: "response out of time limit or subscription is canceled",
}


def errcode(code: int, status: int = 200) -> JSONResponse:
    """WeChat's error answer (HTTP 200 unless the gateway itself fails)."""
    hint = f" rid: {Rand().hex(8)}-{Rand().hex(8)}-{Rand().hex(8)}" if code else ""
    message = ERRORS.get(code, "error") + hint if code else "ok"
    return JSONResponse({"errcode": code, "errmsg": message}, status_code=status)


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's scheme


def encrypt(encoding_aes_key: str, app_id: str, xml: str) -> str:
    """Safe-mode encryption: AES-256-CBC (IV = key[:16]) of random(16) + len + XML + AppID,
    PKCS#7-padded to 32 bytes, base64."""
    key = base64.b64decode(encoding_aes_key + "=")
    text = xml.encode()
    data = os.urandom(16) + len(text).to_bytes(4, "big") + text + app_id.encode()
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def xml_document(fields: dict[str, str | int]) -> str:
    parts = [
        f"<{key}>{value}</{key}>" if isinstance(value, int) else f"<{key}>{cdata(value)}</{key}>"
        for key, value in fields.items()
    ]
    return "<xml>" + "".join(parts) + "</xml>"


class WeChat(Provider):
    name = "wechat"
    title = "WeChat Official Account"
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
        app_id = "wx" + rand.hex(16)
        settings = {
            "app_id": app_id,
            "app_secret": rand.hex(32),
            "token": rand.token(32),
            "encoding_aes_key": base64.b64encode(rand.bytes(32)).decode().rstrip("="),
        }
        state = {"original_id": "gh_" + rand.hex(12), "tokens": set()}
        return Account(self.name, app_id, settings, state=state)

    def new_customer(self, rand: Rand, **options: Any) -> str:
        return "o" + rand.token(27, string.ascii_letters + string.digits + "_-")

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/cgi-bin/token", self.endpoint("token", self._token), methods=["GET"]),
            Route(
                "/cgi-bin/message/custom/send",
                self.endpoint("custom_send", self._send),
                methods=["POST"],
            ),
            Route("/cgi-bin/media/get", self.endpoint("media", self._media), methods=["GET"]),
            Route("/mmbiz/{media_id}", self.endpoint("picurl", self._picture), methods=["GET"]),
        ]

    # -- the API -------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        query = request.query_params
        if query.get("grant_type") != "client_credential":
            return errcode(40002)
        account = self.sim.account(self.name, query.get("appid", ""))
        if account is None:
            request.state.outcome = "unauthorized"
            return errcode(40013)
        request.state.account = account.key
        if query.get("secret") != account.settings["app_secret"]:
            request.state.outcome = "unauthorized"
            return errcode(40125)
        token = (
            self.sim.ids.token(20)
            + "_"
            + self.sim.ids.token(100, string.ascii_letters + string.digits + "-_")
        )
        account.state["tokens"].add(token)
        return JSONResponse({"access_token": token, "expires_in": 7200})

    def _account(self, request: Request) -> Account:
        token = request.query_params.get("access_token", "")
        account = self.sim.find_account(self.name, lambda a: token in a.state["tokens"])
        if account is None:
            raise Refusal(errcode(40001), "unauthorized")
        request.state.account = account.key
        return account

    async def _send(self, request: Request) -> Response:
        account = self._account(request)
        raw = await request.body()
        if not raw:
            raise Refusal(errcode(44002))
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise Refusal(errcode(44002)) from None
        if not isinstance(body, dict) or not body.get("touser"):
            raise Refusal(errcode(40003))
        kind, text, options = _validate(body)
        recipient = str(body["touser"])

        def accept() -> tuple[Sent, Response]:
            message_id = self.sim.ids.digits(19)
            sent = Sent(self.name, account.key, recipient, message_id, kind, text, options, body)
            return sent, errcode(0)

        return await self.sim.deliver(self, account, recipient, request, accept)

    def fault_response(self, fault: Fault) -> Response:
        codes = {
            "rate_limited": 45011,
            "window_closed": 45015,
            "opted_out": 43004,
            "invalid_recipient": 40003,
        }
        if fault.kind in codes:
            response = errcode(codes[fault.kind])
            if fault.retry_after is not None:
                response.headers["retry-after"] = f"{fault.retry_after:g}"
            return response
        return errcode(-1, fault.status or 200)

    def malformed(self, detail: str) -> Response:
        return JSONResponse({"errcode": 47001, "errmsg": "data format error"})

    async def _media(self, request: Request) -> Response:
        self._account(request)
        media = self.sim.media_file(request.query_params.get("media_id", ""))
        if media is None:
            return errcode(40007)
        headers = {"content-disposition": f'attachment; filename="{media.filename}"'}
        return Response(media.data, media_type=media.mime_type, headers=headers)

    async def _picture(self, request: Request) -> Response:
        media = self.sim.media_file(request.path_params["media_id"])
        if media is None:
            return Response(status_code=404)
        return Response(media.data, media_type=media.mime_type)

    # -- pushes to the server URL --------------------------------------------------------------

    def _push(self, account: Account, fields: dict[str, str | int]) -> Webhook:
        fields = {
            "ToUserName": account.state["original_id"],
            **fields,
        }
        xml = xml_document(fields)
        timestamp, nonce = str(int(time.time())), self.sim.ids.digits(10)
        token = account.settings["token"]
        query = {
            "signature": sha1_signature(token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": str(fields["FromUserName"]),
        }
        key = account.settings.get("encoding_aes_key")
        if key:
            encrypted = encrypt(key, account.key, xml)
            query["encrypt_type"] = "aes"
            query["msg_signature"] = sha1_signature(token, timestamp, nonce, encrypted)
            xml = xml_document({"ToUserName": account.state["original_id"], "Encrypt": encrypted})
        url = account.webhook_url or ""
        url += ("&" if "?" in url else "?") + urlencode(query)
        headers = {"content-type": "text/xml", "user-agent": "Mozilla/4.0"}
        return Webhook(url, xml.encode(), headers)

    def _message(self, account: Account, customer: str, fields: dict[str, str | int]) -> Webhook:
        return self._push(
            account,
            {
                "FromUserName": customer,
                "CreateTime": int(time.time()),
                **fields,
                "MsgId": int(self.sim.ids.digits(19)),
            },
        )

    def text(self, account: Account, customer: str, text: str) -> Webhook:
        return self._message(account, customer, {"MsgType": "text", "Content": text})

    def reply(self, account: Account, customer: str, sent: Sent, choice: Choice) -> Webhook:
        fields: dict[str, str | int] = {"MsgType": "text", "Content": choice.title}
        fields["bizmsgmenuid"] = int(choice.value) if choice.value.isdigit() else choice.value
        return self._message(account, customer, fields)

    def media(
        self, account: Account, customer: str, media: MediaFile, caption: str | None
    ) -> Webhook:
        fields: dict[str, str | int] = {
            "MsgType": "image",
            "PicUrl": self.media_url(f"mmbiz/{media.id}"),
            "MediaId": media.id,
        }
        return self._message(account, customer, fields)

    async def verify_webhook(self, client: httpx.AsyncClient, account: Account) -> None:
        """WeChat's server-URL check: a signed GET that must echo ``echostr``."""
        assert account.webhook_url
        timestamp, nonce, echostr = (
            str(int(time.time())),
            self.sim.ids.digits(10),
            self.sim.ids.digits(19),
        )
        query = {
            "signature": sha1_signature(account.settings["token"], timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        url = account.webhook_url + ("&" if "?" in account.webhook_url else "?") + urlencode(query)
        response = await client.get(url)
        if response.status_code != 200 or response.text != echostr:
            raise WebhookRefused(f"server URL check failed: HTTP {response.status_code}")


def _validate(body: dict[str, Any]) -> tuple[str, str | None, list[Choice]]:
    kind = body.get("msgtype")
    if kind not in MSG_TYPES:
        raise Refusal(errcode(40008))
    part = body.get(kind)
    if not isinstance(part, dict):
        raise Refusal(errcode(44002))
    if kind == "text":
        content = part.get("content")
        if not isinstance(content, str) or not content:
            raise Refusal(errcode(44004))
        if len(content.encode()) > 2048:
            raise Refusal(JSONResponse({"errcode": 45002, "errmsg": "content size out of limit"}))
        return "text", content, []
    if kind == "msgmenu":
        items = part.get("list")
        if not isinstance(items, list) or not items:
            raise Refusal(errcode(44004))
        options = [Choice(str(item["content"]), str(item["id"])) for item in items]
        return "buttons", part.get("head_content"), options
    if kind == "news":
        articles = part.get("articles")
        if not isinstance(articles, list) or len(articles) != 1:
            raise Refusal(JSONResponse({"errcode": 45008, "errmsg": "article size out of limit"}))
        return "card", articles[0].get("title"), []
    return "media" if kind in ("image", "voice", "video") else "other", None, []
