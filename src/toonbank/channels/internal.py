"""Channels Toonbank delivers itself: the web-chat widget and the terminal (``toonbank chat``).

Their inbound side is not a webhook (the widget speaks WebSocket, the terminal is in-process),
so verify/parse refuse HTTP requests; their outbound side needs no provider call: the message
row and its event *are* the delivery, which clients read from the event log.
"""

from __future__ import annotations

import httpx

from toonbank.channels.base import (
    ChannelAdapter,
    Connection,
    InboundRequest,
    Manifest,
    ParsedEvent,
    SendResult,
    SignatureError,
)
from toonbank.channels.capabilities import PLAIN_TEXT, RICH
from toonbank.channels.content import Content


class _InternalChannel(ChannelAdapter):
    def verify(self, request: InboundRequest, connection: Connection) -> None:
        raise SignatureError(f"{self.manifest.type} connections do not accept webhooks")

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        return []

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        return SendResult(provider_message_id=None)


class WebChatChannel(_InternalChannel):
    manifest = Manifest(
        type="webchat",
        title="Web chat widget",
        capabilities=RICH,
        idempotent_sends=True,
        internal=True,
    )


class TerminalChannel(_InternalChannel):
    manifest = Manifest(
        type="terminal",
        title="Terminal (toonbank chat)",
        capabilities=PLAIN_TEXT.__class__(
            media=frozenset(), location=False, contact_card=False, max_text_length=100_000
        ),
        idempotent_sends=True,
        internal=True,
    )
