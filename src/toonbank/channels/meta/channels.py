"""The Messenger and Instagram adapters (one Meta implementation, two manifests).

Settings (names as in Meta's docs): ``app_secret`` (signs webhooks), ``page_access_token``
(sends), ``verify_token`` (the webhook subscription handshake) — all secret — and the public
``page_id``; optional ``api_version`` (default ``v21.0``). Instagram (Messenger API for
Instagram, Facebook Login: the Page linked to the Instagram professional account) also takes an
optional ``instagram_account_id``: when set, webhook entries for other Instagram accounts are
ignored, as Messenger ignores entries for other Pages.
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from toonbank.channels.base import (
    ChannelAdapter,
    Connection,
    InboundRequest,
    Manifest,
    ParsedEvent,
    SendError,
    SendResult,
    WebhookResponse,
)
from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content
from toonbank.channels.meta import graph, inbound, outbound, webhook

SETTINGS = ("app_secret", "page_access_token", "page_id", "verify_token")
SECRETS = ("app_secret", "page_access_token", "verify_token")
MEDIA = frozenset({"image", "audio", "video", "file"})

# Meta's rate-limit page allows 300 Send API calls per second per Page (or Instagram account)
# for text, but only 10 per second for audio/video, throttles busy single threads and counts
# every call against a 24-hour budget of 200 x engaged users. One per-connection rate cannot
# tell those apart, so the default stays far below the text ceiling; a rate-limited send is
# retried after Meta's hint anyway.
DEFAULT_RATE_PER_SECOND = 40


def _capabilities(limit: outbound.TextLimit, *, receipts: bool = False) -> Capabilities:
    """Quick replies (13), generic template cards / carousels and button-template payment links;
    order confirmations as receipt templates where the channel has them (Messenger); locations,
    contact cards, list pickers (and carts) are degraded to text."""
    return Capabilities(
        media=MEDIA,
        location=False,
        contact_card=False,
        max_buttons=outbound.MAX_QUICK_REPLIES,
        list_picker=False,
        product_card=True,
        carousel=True,
        order_summary=receipts,
        payment_link=True,
        template=False,
        markdown_links=False,
        max_text_length=limit.chars,
    )


STANDARD_WINDOW = 24 * 3600.0
"""Standard messaging: replies within 24 hours of the customer's last message."""
HUMAN_AGENT_WINDOW = 7 * 24 * 3600.0
"""A person may answer up to 7 days later with the ``HUMAN_AGENT`` tag."""


class MetaChannel(ChannelAdapter):
    """Shared Messenger / Instagram behaviour; subclasses set the object type and limits."""

    object_type: ClassVar[str]
    text_limit: ClassVar[outbound.TextLimit]
    account_setting: ClassVar[str]

    def handshake(self, request: InboundRequest, connection: Connection) -> WebhookResponse:
        """``hub.mode=subscribe`` with the right ``hub.verify_token`` → 200 + challenge."""
        return webhook.handshake(request, connection.setting("verify_token"))

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        webhook.verify_signature(request, connection.setting("app_secret"))

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        account = connection.setting(self.account_setting)
        return inbound.parse_body(
            request.body,
            expected_object=self.object_type,
            account_id=str(account) if account else None,
        )

    def build_bodies(
        self, recipient: str, content: Content, *, human_agent: bool
    ) -> list[outbound.Body]:
        """Every Send API body for ``content``, in sending order (the main message last)."""
        return [
            outbound.envelope(recipient, message, human_agent=human_agent)
            for message in outbound.message_objects(content, self.text_limit)
        ]

    def build_body(self, recipient: str, content: Content, *, human_agent: bool) -> outbound.Body:
        """The main Send API body for ``content`` (lead-in texts: see :meth:`build_bodies`).

        ``human_agent`` selects ``MESSAGE_TAG``/``HUMAN_AGENT`` instead of ``RESPONSE``: the
        dispatcher sets this for agent messages outside 24 h.
        """
        return self.build_bodies(recipient, content, human_agent=human_agent)[-1]

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
        human_agent: bool = False,
    ) -> SendResult:
        """POST each body to ``/me/messages``; returns the main (last) message's mid.

        Meta has no idempotency key, so ``idempotency_key`` is unused. ``human_agent``: see
        :meth:`build_body`; the dispatcher sets this for agent messages outside 24 h.
        """
        token = connection.setting("page_access_token")
        if not isinstance(token, str) or not token:
            raise SendError(
                "connection has no page_access_token", retryable=False, error_code="config"
            )
        url = graph.messages_url(connection)
        message_id = ""
        for body in self.build_bodies(recipient, content, human_agent=human_agent):
            message_id = await graph.post_message(http, url, token, body)
        return SendResult(provider_message_id=message_id or None)


class MessengerChannel(MetaChannel):
    """Facebook Messenger through a Page (Messenger Platform Send API and webhooks)."""

    object_type = "page"
    text_limit = outbound.MESSENGER_TEXT
    account_setting = "page_id"
    manifest = Manifest(
        type="messenger",
        title="Facebook Messenger",
        capabilities=_capabilities(outbound.MESSENGER_TEXT, receipts=True),
        required_settings=SETTINGS,
        secret_settings=SECRETS,
        default_rate_per_second=DEFAULT_RATE_PER_SECOND,
        idempotent_sends=False,
        session_window_seconds=STANDARD_WINDOW,
        human_agent_window_seconds=HUMAN_AGENT_WINDOW,
    )


class InstagramChannel(MetaChannel):
    """Instagram Direct through the Messenger API for Instagram (Page linked to the account)."""

    object_type = "instagram"
    text_limit = outbound.INSTAGRAM_TEXT
    account_setting = "instagram_account_id"
    manifest = Manifest(
        type="instagram",
        title="Instagram Direct",
        capabilities=_capabilities(outbound.INSTAGRAM_TEXT),
        required_settings=SETTINGS,
        secret_settings=SECRETS,
        default_rate_per_second=DEFAULT_RATE_PER_SECOND,
        idempotent_sends=False,
        session_window_seconds=STANDARD_WINDOW,
        human_agent_window_seconds=HUMAN_AGENT_WINDOW,
    )
