"""The WhatsApp Business Platform adapter (Meta's Cloud API).

Setup (Meta App Dashboard → WhatsApp): the webhook callback URL is ``/webhooks/{connection_id}``
with the connection's ``verify_token``; Meta first sends ``GET ?hub.mode=subscribe&
hub.verify_token=…&hub.challenge=…`` (:meth:`WhatsAppChannel.handshake`), then signed POSTs with
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>``. Sends go to
``{api_base_url}/{api_version}/{phone_number_id}/messages`` with ``Authorization: Bearer
<access_token>``; the answer's ``messages[0].id`` (a ``wamid``) is what status webhooks carry.

Free-form messages are only delivered within 24 hours of the customer's last message (error
131047 → ``window_closed``); outside that window only a :class:`~toonbank.channels.content.Template`
goes out. WhatsApp has no idempotency key: a send retried after a crash may arrive twice.
"""

from __future__ import annotations

import hashlib
import hmac
import re

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
    SignatureError,
    WebhookResponse,
    download,
)
from toonbank.channels.content import Content
from toonbank.channels.whatsapp.graph import (
    auth_headers,
    graph_error,
    graph_url,
    media_id_of,
    media_url,
)
from toonbank.channels.whatsapp.parse import parse_webhook
from toonbank.channels.whatsapp.render import CAPABILITIES, request_bodies
from toonbank.kit.crypto import constant_time_equal

SIGNATURE_HEADER = "x-hub-signature-256"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
MAX_CHALLENGE = 512


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class WhatsAppChannel(ChannelAdapter):
    """WhatsApp via the Cloud API: signed webhooks in, Graph API ``/messages`` out.

    Inbound: text, media (image, sticker, video, audio, document → ``provider-media://<id>``,
    resolve with :func:`toonbank.channels.whatsapp.graph.media_url`), location, shared contacts,
    interactive button/list replies and template quick-reply buttons (→ ``Reply``), catalog
    orders (a text summary plus ``extra["order"]``), click-to-WhatsApp ad referrals
    (``extra["referral"]``) and sent/delivered/read/played/failed statuses.
    Outbound: text, media by link, location, contact card, up to 3 reply buttons, lists of up to
    10 rows, catalog product / product-list messages (``catalog_id`` set; otherwise an image with
    caption or a text list) and approved templates.
    """

    manifest = Manifest(
        type="whatsapp",
        title="WhatsApp (Cloud API)",
        capabilities=CAPABILITIES,
        required_settings=("app_secret", "access_token", "phone_number_id", "verify_token"),
        secret_settings=("app_secret", "access_token", "verify_token"),
        default_rate_per_second=80,  # Cloud API throughput per business number (Meta default)
        idempotent_sends=False,
        session_window_seconds=24 * 3600,
    )

    def handshake(self, request: InboundRequest, connection: Connection) -> WebhookResponse:
        """Echo ``hub.challenge`` when ``hub.mode=subscribe`` and the verify token matches."""
        query = request.query
        expected = connection.setting("verify_token")
        given = query.get("hub.verify_token", "")
        challenge = query.get("hub.challenge", "")
        if (
            query.get("hub.mode") == "subscribe"
            and expected
            and given
            and constant_time_equal(str(given), str(expected))
            and challenge
            and len(challenge) <= MAX_CHALLENGE
        ):
            return WebhookResponse(status=200, body=challenge.encode(), media_type="text/plain")
        return WebhookResponse(status=403, body=b"verification failed", media_type="text/plain")

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        """Check ``X-Hub-Signature-256`` against the HMAC of the raw body (app secret as key)."""
        secret = connection.setting("app_secret")
        if not secret:
            raise SignatureError("connection has no app_secret")
        header = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not header:
            raise SignatureError("missing X-Hub-Signature-256 header")
        match = _SIGNATURE.fullmatch(header)
        if match is None:
            raise SignatureError("X-Hub-Signature-256 must be 'sha256=' and 64 hex digits")
        expected = signature(str(secret), request.body)
        if not constant_time_equal(expected, "sha256=" + match.group(1).lower()):
            raise SignatureError("X-Hub-Signature-256 does not match the body")

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        """Messages and statuses for this connection's phone number (others are skipped)."""
        phone_number_id = connection.setting("phone_number_id")
        return parse_webhook(request.body, str(phone_number_id) if phone_number_id else None)

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        """POST the content's request body (rarely several, see ``render``) to ``/messages``.

        Returns the ``wamid`` of the last body sent (status webhooks carry it).
        """
        phone_number_id = connection.setting("phone_number_id")
        if not phone_number_id:
            raise SendError(
                "connection has no phone_number_id", retryable=False, error_code="config"
            )
        url = graph_url(connection, str(phone_number_id), "messages")
        headers = auth_headers(connection)
        catalog_id = connection.setting("catalog_id")
        result = SendResult(provider_message_id=None)
        for body in request_bodies(recipient, content, catalog_id=catalog_id or None):
            response = await http.post(url, json=body, headers=headers)
            if response.status_code >= 300:
                raise graph_error(response)
            result = SendResult(provider_message_id=_message_id(response))
        return result

    async def fetch_media(
        self, http: httpx.AsyncClient, connection: Connection, url: str, *, max_bytes: int
    ) -> FetchedMedia:
        """``provider-media://<id>``: look the id up on the Graph API, then download the
        short-lived URL with the same token."""
        if media_id_of(url) is None:
            return await super().fetch_media(http, connection, url, max_bytes=max_bytes)
        link = await media_url(http, connection, url)
        return await download(http, link, max_bytes=max_bytes, headers=auth_headers(connection))

    async def upload_media(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        data: bytes,
        mime_type: str,
        filename: str | None,
    ) -> str:
        """Upload a file to WhatsApp (``POST /{phone_number_id}/media``); returns its media id.

        Used for files Toonbank holds itself (an agent's attachment, a customer's photo
        forwarded), which Meta could not fetch by link.
        """
        phone_number_id = str(connection.setting("phone_number_id") or "")
        response = await http.post(
            graph_url(connection, f"{phone_number_id}/media"),
            headers=auth_headers(connection),
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename or "file", data, mime_type)},
        )
        if response.status_code >= 300:
            raise graph_error(response)
        media_id = response.json().get("id") if response.content else None
        if not isinstance(media_id, str) or not media_id:
            raise SendError(
                "WhatsApp media upload returned no id",
                retryable=False,
                error_code="invalid_response",
            )
        return media_id


def _message_id(response: httpx.Response) -> str | None:
    """``messages[0].id`` of a send answer."""
    try:
        data = response.json()
    except ValueError:
        return None
    messages = data.get("messages") if isinstance(data, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        message_id = messages[0].get("id")
        return str(message_id) if message_id else None
    return None
