"""Conformance spec for the Viber channel (REST Bot API callbacks and send_message)."""

from __future__ import annotations

import httpx
from tests.channels.conformance import AdapterSpec, connection, reference_payload, request

from toonbank.channels.base import InboundRequest
from toonbank.channels.viber import ViberChannel, signature

AUTH_TOKEN = "44dafb7e0f40021e-61a47a1e6778d187-f2c5a676a07050b3"
RECEIVER = "xy5/5y6O81+/kbWHpLhBoA=="
SENT_TOKEN = 5741311803571721087

PAYLOADS = [
    reference_payload(name)
    for name in (
        "viber_message_text.json",
        "viber_message_unicode.json",
        "viber_message_location.json",
        "viber_failed_status.json",
    )
]


def sign(body: bytes, secret: str = AUTH_TOKEN) -> InboundRequest:
    return request(
        body,
        {"Content-Type": "application/json", "X-Viber-Content-Signature": signature(secret, body)},
    )


def ok_response(_sent: httpx.Request) -> httpx.Response:
    """A successful send: status 0 and the new message's 64-bit token."""
    return httpx.Response(
        200,
        json={
            "status": 0,
            "status_message": "ok",
            "message_token": SENT_TOKEN,
            "chat_hostname": "SN-CHAT-05_",
        },
    )


def rate_limited(_sent: httpx.Request) -> httpx.Response:
    """Viber's rate-control answer comes as HTTP 200 with status 12 (here with a wait hint)."""
    return httpx.Response(
        200,
        headers={"retry-after": "7"},
        json={"status": 12, "status_message": "Too many requests", "chat_hostname": "SN-CHAT-0x_"},
    )


SPECS = [
    AdapterSpec(
        adapter=ViberChannel(),
        connection=connection(
            "viber", {"auth_token": AUTH_TOKEN}, {"sender_name": "Toonbank Shop"}
        ),
        sign=sign,
        payloads=PAYLOADS,
        recipient=RECEIVER,
        ok_response=ok_response,
        rate_limited=rate_limited,
        signature_headers=("x-viber-content-signature",),
    )
]
