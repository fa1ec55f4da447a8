"""WeChat Official Account (公众号) via the server URL and the customer-service message API.

Settings (named as in WeChat's docs): ``app_id`` (AppID, public), ``app_secret`` (AppSecret),
``token`` (the server-configuration Token used for signatures) and optional
``encoding_aes_key`` (EncodingAESKey, 43 chars) for safe mode; the last three are secrets.

Inbound:

- The server-URL check is a GET with ``signature``, ``timestamp``, ``nonce`` and ``echostr``;
  ``signature == sha1(sorted(token, timestamp, nonce))`` → answer ``echostr`` (else 403).
- Every POST carries the same query. Requests whose ``timestamp`` is more than five minutes
  away from our clock are refused as replays (WeChat retries within ~15 s, so that is ample).
- Plaintext mode ("明文模式"): WeChat's signature covers only token, timestamp and nonce, *not
  the body*: anyone who saw one signed URL could post a different body with it within the replay
  window. Safe mode ("安全模式") closes that gap: the body's ``<Encrypt>`` is covered by
  ``msg_signature`` and AES-encrypted together with our AppID. Use safe mode in production:
  configure ``encoding_aes_key`` here *and* select safe (or compatible) mode in WeChat. Once
  the key is configured, unencrypted requests are refused (no downgrade).
- WeChat waits 5 s for an answer and retries 3 times; :meth:`WeChatChannel.acknowledge`
  answers ``success`` at once (a plain ``success`` is accepted in safe mode too).

Outbound: ``POST {api_base_url}/cgi-bin/message/custom/send?access_token=…`` (customer-service
messages, allowed for 48 h after the user's last message, menu click, follow or scan), JSON
encoded as UTF-8 without ``\\u`` escapes. See :mod:`.outbound` for the bodies and :mod:`.api`
for the access-token cache and error codes. WeChat returns no message id for these sends and
sends no delivery receipts, so ``SendResult.provider_message_id`` is None.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from toonbank.channels.base import (
    MEDIA_SCHEME,
    ChannelAdapter,
    Connection,
    FetchedMedia,
    InboundRequest,
    Manifest,
    ParsedEvent,
    PayloadError,
    SendError,
    SendResult,
    SignatureError,
    WebhookResponse,
    download,
)
from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content
from toonbank.channels.wechat.api import TOKEN_REJECTED, access_token, api_base, errcode, result
from toonbank.channels.wechat.crypto import CryptoError, MessageCrypto, signature_matches
from toonbank.channels.wechat.inbound import events_of, parse_xml
from toonbank.channels.wechat.outbound import MAX_MENU_OPTIONS, message_body

TOLERANCE_SECONDS = 300
SESSION_WINDOW_SECONDS = 48 * 3600

CAPABILITIES = Capabilities(
    media=frozenset(),
    location=False,
    contact_card=False,
    max_buttons=MAX_MENU_OPTIONS,
    product_card=True,
    max_text_length=680,
)
"""Text (680 chars ≈ WeChat's 2048-byte text limit for CJK), ``msgmenu`` options and ``news``
product cards. Images need an upload for a ``media_id`` and are sent as text with the URL."""


class WeChatChannel(ChannelAdapter):
    """WeChat Official Account: server-URL webhooks in, customer-service messages out."""

    manifest = Manifest(
        type="wechat",
        title="WeChat Official Account",
        capabilities=CAPABILITIES,
        required_settings=("app_id", "app_secret", "token"),
        secret_settings=("app_secret", "token", "encoding_aes_key"),
        default_rate_per_second=10,
        idempotent_sends=False,
        session_window_seconds=SESSION_WINDOW_SECONDS,
    )

    def handshake(self, request: InboundRequest, connection: Connection) -> WebhookResponse:
        """Answer WeChat's server-URL check: ``echostr`` verbatim when the signature matches."""
        try:
            self._check_query(request, connection)
        except SignatureError:
            return WebhookResponse(status=403, body=b"invalid signature")
        echostr = request.query.get("echostr", "")
        if not echostr:
            return WebhookResponse(status=400, body=b"missing echostr")
        return WebhookResponse(status=200, body=echostr.encode(), media_type="text/plain")

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        """Check the query signature (and, in safe mode, ``msg_signature`` and the AppID)."""
        token = self._check_query(request, connection)
        key = connection.setting("encoding_aes_key")
        if request.query.get("encrypt_type", "raw").lower() != "aes":
            if key:
                raise SignatureError(
                    "encoding_aes_key is configured (safe mode) but the request is not encrypted"
                )
            return
        msg_signature = request.query.get("msg_signature", "")
        if not msg_signature:
            raise SignatureError("safe-mode request without msg_signature")
        try:
            encrypted = parse_xml(request.body).get("Encrypt", "")
        except PayloadError as exc:
            raise SignatureError(f"safe-mode body cannot be read: {exc}") from None
        if not encrypted:
            raise SignatureError("safe-mode request without <Encrypt>")
        query = request.query
        if not signature_matches(
            msg_signature, token, query["timestamp"], query["nonce"], encrypted
        ):
            raise SignatureError("msg_signature does not match the encrypted body")
        if key:
            try:
                _crypto(connection).decrypt(encrypted)
            except CryptoError as exc:
                raise SignatureError(f"safe-mode message rejected: {exc}") from None

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        """One WeChat message or event → zero or one neutral event."""
        fields = parse_xml(request.body)
        if request.query.get("encrypt_type", "raw").lower() == "aes":
            if not connection.setting("encoding_aes_key"):
                raise PayloadError(
                    "encrypted (safe-mode) message but the connection has no encoding_aes_key"
                )
            try:
                fields = parse_xml(_crypto(connection).decrypt(fields.get("Encrypt", "")))
            except CryptoError as exc:
                raise PayloadError(f"cannot decrypt the message: {exc}") from None
        elif "Encrypt" in fields and "MsgType" not in fields:
            raise PayloadError("encrypted message without encrypt_type=aes in the query")
        return list(events_of(fields))

    def acknowledge(self, events: list[ParsedEvent]) -> WebhookResponse:
        """``success``: WeChat stops retrying and shows the user nothing."""
        return WebhookResponse(status=200, body=b"success")

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        """Send one customer-service message; a rejected access token is refreshed once."""
        body = json.dumps(message_body(recipient, content), ensure_ascii=False).encode("utf-8")
        token = await access_token(http, connection)
        data = await _post(http, connection, token, body)
        if errcode(data) in TOKEN_REJECTED:
            token = await access_token(http, connection, stale=token)
            data = await _post(http, connection, token, body)
            if errcode(data) in TOKEN_REJECTED:
                raise SendError(
                    f"WeChat rejected a fresh access token: {data.get('errmsg', '')}",
                    retryable=False,
                    error_code="auth",
                )
        msg_id = data.get("msgid")
        return SendResult(provider_message_id=str(msg_id) if msg_id else None)

    def _check_query(self, request: InboundRequest, connection: Connection) -> str:
        """Validate ``signature``/``timestamp``/``nonce``; returns the token."""
        token = connection.setting("token")
        if not token:
            raise SignatureError("connection has no token")
        query = request.query
        signature, timestamp, nonce = (
            query.get(k, "") for k in ("signature", "timestamp", "nonce")
        )
        if not signature or not timestamp or not nonce:
            raise SignatureError("missing signature, timestamp or nonce query parameter")
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            raise SignatureError("timestamp must be unix seconds") from None
        if age > TOLERANCE_SECONDS:
            raise SignatureError("timestamp outside the 5-minute tolerance (replayed?)")
        if not signature_matches(signature, str(token), timestamp, nonce):
            raise SignatureError("signature does not match the token")
        return str(token)

    async def fetch_media(
        self, http: httpx.AsyncClient, connection: Connection, url: str, *, max_bytes: int
    ) -> FetchedMedia:
        """``provider-media://<MediaId>``: the temporary-media API (``media/get``)."""
        if not url.startswith(MEDIA_SCHEME):
            return await super().fetch_media(http, connection, url, max_bytes=max_bytes)
        token = await access_token(http, connection)
        query = urlencode({"access_token": token, "media_id": url.removeprefix(MEDIA_SCHEME)})
        return await download(
            http, f"{api_base(connection)}/cgi-bin/media/get?{query}", max_bytes=max_bytes
        )


def _crypto(connection: Connection) -> MessageCrypto:
    """The connection's safe-mode crypto (raises CryptoError for a malformed key)."""
    return MessageCrypto(
        str(connection.setting("encoding_aes_key") or ""),
        str(connection.setting("app_id") or ""),
    )


async def _post(
    http: httpx.AsyncClient, connection: Connection, token: str, body: bytes
) -> dict[str, Any]:
    response = await http.post(
        f"{api_base(connection)}/cgi-bin/message/custom/send",
        params={"access_token": token},
        content=body,
        headers={"content-type": "application/json; charset=utf-8"},
    )
    return result(response, "send")
