"""The channel adapter port: verify → parse → (render) → send.

An adapter is thin and framework-free: it sees a plain :class:`InboundRequest` (headers and the
raw body), never a web framework object, and it is given an ``httpx.AsyncClient`` to send with.
Routes, storage and retries live elsewhere (``toonbank.api.webhooks``, ``toonbank.pipeline``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

import httpx

from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """What a provider sent us. Header names are lower-case."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Connection:
    """A channel connection with its decrypted secrets (never persisted in this form)."""

    id: str
    workspace_id: str
    type: str
    name: str
    api_base_url: str | None
    settings: Mapping[str, Any]
    secrets: Mapping[str, Any]
    rate_per_second: float | None = None

    def setting(self, key: str, default: Any = None) -> Any:
        if key in self.secrets:
            return self.secrets[key]
        return self.settings.get(key, default)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer message, parsed. ``provider_message_id`` is the deduplication key."""

    provider_message_id: str
    sender_id: str
    content: Content
    sender_name: str | None = None
    phone: str | None = None
    timestamp: datetime | None = None
    reply_to: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


ReceiptStatus = Literal["sent", "delivered", "read", "failed"]


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    provider_message_id: str
    status: ReceiptStatus
    timestamp: datetime | None = None
    error_code: str | None = None
    error_detail: str | None = None


ParsedEvent = InboundMessage | DeliveryReceipt


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int = 200
    body: bytes = b""
    media_type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str | None


class ChannelError(Exception):
    """Base for adapter errors; ``code`` is stable and safe to show to API clients."""

    code = "channel_error"


class SignatureError(ChannelError):
    """The request is not from the provider (bad, missing or replayed signature)."""

    code = "invalid_signature"


class PayloadError(ChannelError):
    """The request is authentic but its body cannot be understood."""

    code = "invalid_payload"


class SendError(ChannelError):
    """A send failed. ``retryable`` errors are retried with backoff (honouring ``retry_after``)."""

    code = "send_failed"

    def __init__(
        self,
        detail: str,
        *,
        retryable: bool,
        error_code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.error_code = error_code
        self.http_status = http_status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a channel is, can do and needs. Validated by the conformance suite."""

    type: str
    title: str
    capabilities: Capabilities
    required_settings: tuple[str, ...] = ()
    secret_settings: tuple[str, ...] = ()
    default_rate_per_second: float | None = None
    idempotent_sends: bool = False
    """True when the provider deduplicates our retries (no duplicate after a crash mid-send)."""
    internal: bool = False
    """Internal channels (web chat, terminal) are delivered by Toonbank itself."""
    keyword_opt_in: bool = False
    """True where an opt-out lifts only with an opt-in keyword (SMS: START); elsewhere any new
    message from the customer lifts it (they unblocked the bot)."""
    session_window_seconds: float | None = None
    """Free-form messages are only allowed this long after the customer's last message
    (WhatsApp: 24 h); outside it only templates go out."""
    human_agent_window_seconds: float | None = None
    """Where a person (not the bot) may still answer after the session window closes, by
    sending with ``human_agent=True`` (Messenger/Instagram ``HUMAN_AGENT`` tag: 7 days)."""


class ChannelAdapter(ABC):
    manifest: ClassVar[Manifest]

    def handshake(self, request: InboundRequest, connection: Connection) -> WebhookResponse | None:
        """Answer a provider's verification GET, if the channel has one."""
        return None

    @abstractmethod
    def verify(self, request: InboundRequest, connection: Connection) -> None:
        """Raise :class:`SignatureError` unless the request is authentic."""

    @abstractmethod
    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        """Turn a verified request into neutral events (raise :class:`PayloadError`)."""

    def acknowledge(self, events: list[ParsedEvent]) -> WebhookResponse:
        return WebhookResponse(status=200, body=b"ok")

    @abstractmethod
    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        """Hand one (already degraded) content item to the provider."""

    async def fetch_media(
        self, http: httpx.AsyncClient, connection: Connection, url: str, *, max_bytes: int
    ) -> FetchedMedia:
        """Download an inbound media item so Toonbank keeps its own copy.

        The default fetches public ``http(s)`` links (Messenger's and Viber's CDN URLs, which
        expire). Adapters whose media sit behind the provider's API (``provider-media://``
        references, authenticated URLs) override this.
        """
        if not url.startswith(("https://", "http://")):
            raise SendError(
                f"{self.manifest.type} cannot fetch {url[:40]}",
                retryable=False,
                error_code="no_media_api",
            )
        return await download(http, url, max_bytes=max_bytes)


MEDIA_SCHEME = "provider-media://"
"""Inbound media that must be fetched through the provider's API: ``provider-media://<id>``."""


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    data: bytes
    content_type: str | None = None
    filename: str | None = None


async def download(
    http: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> FetchedMedia:
    """GET a media file, refusing more than ``max_bytes`` (streamed, never fully buffered)."""
    try:
        async with http.stream("GET", url, headers=headers, auth=auth) as response:
            if response.status_code >= 300:
                await response.aread()
                raise classify_http_failure(
                    response, f"media download: HTTP {response.status_code}"
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SendError(
                    f"media is {declared} bytes, over the {max_bytes} byte limit",
                    retryable=False,
                    error_code="media_too_large",
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SendError(
                        f"media is over the {max_bytes} byte limit",
                        retryable=False,
                        error_code="media_too_large",
                    )
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            return FetchedMedia(b"".join(chunks), content_type or None)
    except httpx.TimeoutException:
        raise SendError("media download timed out", retryable=True, error_code="timeout") from None
    except httpx.TransportError as exc:
        raise SendError(
            f"network error: {type(exc).__name__}", retryable=True, error_code="network"
        ) from None


def json_body(request: InboundRequest) -> Any:
    """The request body as JSON, or :class:`PayloadError` with a clear message."""
    import json

    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("body is not valid JSON") from None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Parse a ``Retry-After`` header (seconds or HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    from toonbank.kit.clock import now

    try:
        return max(0.0, (parsedate_to_datetime(value) - now()).total_seconds())
    except (TypeError, ValueError):
        return None


def classify_http_failure(response: httpx.Response, detail: str | None = None) -> SendError:
    """Map an HTTP failure to a retryable or permanent :class:`SendError`."""
    status = response.status_code
    retryable = status == 429 or status >= 500 or status == 408
    return SendError(
        detail or f"provider answered HTTP {status}",
        retryable=retryable,
        error_code=f"http_{status}",
        http_status=status,
        retry_after=retry_after_seconds(response),
    )
