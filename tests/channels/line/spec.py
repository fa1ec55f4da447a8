"""Conformance spec for the LINE channel (Messaging API webhooks and push messages)."""

from __future__ import annotations

import json

import httpx
from tests.channels.conformance import AdapterSpec, connection, reference_payload, request

from toonbank.channels.base import InboundRequest
from toonbank.channels.line import LineChannel, signature

CHANNEL_SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
ACCESS_TOKEN = "line-channel-access-token"
USER_ID = "U206d25c2ea6bd87c17655609a1c37cb8"
SENT_ID = "461230966842064897"


def wrapped(name: str) -> bytes:
    """A single recorded event as LINE delivers it: inside ``{"destination", "events"}``."""
    event = json.loads(reference_payload(name))
    return json.dumps({"destination": "U123", "events": [event]}, indent=2).encode()


PAYLOADS = [
    reference_payload("line_webhook_all_events.json"),
    wrapped("line_message_text_event.json"),
    wrapped("line_message_location_event.json"),
    wrapped("line_postback_event.json"),
]


def sign(body: bytes, secret: str = CHANNEL_SECRET) -> InboundRequest:
    return request(
        body, {"Content-Type": "application/json", "X-Line-Signature": signature(secret, body)}
    )


def ok_response(_sent: httpx.Request) -> httpx.Response:
    """The push answer: the ids (and quote tokens) of the sent messages."""
    return httpx.Response(
        200,
        headers={"x-line-request-id": "f70dd685-499a-4231-a441-f24b8d4fba21"},
        json={"sentMessages": [{"id": SENT_ID, "quoteToken": "IStG5h1Tz7b"}]},
    )


def rate_limited(_sent: httpx.Request) -> httpx.Response:
    return httpx.Response(429, headers={"retry-after": "7"}, json={"message": "Too Many Requests"})


SPECS = [
    AdapterSpec(
        adapter=LineChannel(),
        connection=connection(
            "line", {"channel_secret": CHANNEL_SECRET, "channel_access_token": ACCESS_TOKEN}
        ),
        sign=sign,
        payloads=PAYLOADS,
        recipient=USER_ID,
        ok_response=ok_response,
        rate_limited=rate_limited,
        signature_headers=("x-line-signature",),
    )
]
