"""Conformance spec for the Telegram channel (Bot API webhooks with a secret token)."""

from __future__ import annotations

import httpx
from tests.channels.conformance import AdapterSpec, connection, reference_payload, request

from toonbank.channels.base import InboundRequest
from toonbank.channels.telegram import TelegramChannel

BOT_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SECRET_TOKEN = "tb_webhook-Secret_42"
CHAT_ID = "1111111"

PAYLOADS = [
    reference_payload(f"telegram_update_{name}.json")
    for name in (
        "message_text",
        "message_reply",
        "message_document",
        "message_photo",
        "message_location",
        "message_contact",
        "edited_message",
        "callback_query",
    )
]


def sign(body: bytes, secret: str = SECRET_TOKEN) -> InboundRequest:
    """What Telegram sends: the body and the ``secret_token`` of ``setWebhook`` as a header."""
    return request(
        body,
        {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
    )


def ok_response(sent: httpx.Request) -> httpx.Response:
    """``{"ok": true, "result": Message}`` as the Bot API answers a send."""
    return httpx.Response(
        200,
        json={
            "ok": True,
            "result": {
                "message_id": 4242,
                "date": 1700000000,
                "chat": {"id": int(CHAT_ID), "type": "private", "first_name": "Test"},
                "from": {"id": 123456, "is_bot": True, "first_name": "Shop"},
            },
        },
    )


def rate_limited(_sent: httpx.Request) -> httpx.Response:
    """Telegram's flood-control answer (the wait is in the body, not in a header)."""
    return httpx.Response(
        429,
        json={
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )


SPECS = [
    AdapterSpec(
        adapter=TelegramChannel(),
        connection=connection("telegram", {"bot_token": BOT_TOKEN, "secret_token": SECRET_TOKEN}),
        sign=sign,
        payloads=PAYLOADS,
        recipient=CHAT_ID,
        ok_response=ok_response,
        rate_limited=rate_limited,
        signature_headers=("x-telegram-bot-api-secret-token",),
        body_signed=False,
    )
]
