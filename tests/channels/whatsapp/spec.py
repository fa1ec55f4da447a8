"""Conformance spec for the WhatsApp Cloud API channel (real recorded webhook payloads)."""

from __future__ import annotations

import hashlib
import hmac

import httpx
from tests.channels.conformance import AdapterSpec, connection, reference_payload, request

from toonbank.channels.base import InboundRequest
from toonbank.channels.whatsapp import WhatsAppChannel

APP_SECRET = "wa-app-secret"
ACCESS_TOKEN = "EAAG-test-token"
VERIFY_TOKEN = "vibecoding"
PHONE_NUMBER_ID = "1122334455667"
CATALOG_ID = "354160437058781"
RECIPIENT = "972987654321"

SECRETS = {"app_secret": APP_SECRET, "access_token": ACCESS_TOKEN, "verify_token": VERIFY_TOKEN}
CONNECTION = connection(
    "whatsapp", SECRETS, {"phone_number_id": PHONE_NUMBER_ID, "catalog_id": CATALOG_ID}
)

PAYLOAD_NAMES = [
    "whatsapp_text_inbound.json",
    "whatsapp_text_reply_context_inbound.json",
    "whatsapp_image_inbound.json",
    "whatsapp_location_inbound.json",
    "whatsapp_contacts_inbound.json",
    "whatsapp_interactive_button_reply.json",
    "whatsapp_interactive_list_reply.json",
    "whatsapp_template_quick_reply_button.json",
    "whatsapp_order_inbound.json",
    "whatsapp_ctwa_referral_inbound.json",
    "whatsapp_status_sent.json",
    "whatsapp_status_delivered.json",
    "whatsapp_status_read.json",
    "whatsapp_status_failed.json",
]
"""Recorded payloads addressed to phone number id 1122334455667 (pywa fixtures)."""

SEND_OK = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": RECIPIENT, "wa_id": RECIPIENT}],
    "messages": [{"id": "wamid.HBgMOTcyOTg3NjU0MzIxFQIAERgSQUJDMTIz"}],
}
"""The documented success answer of ``POST /{phone_number_id}/messages``."""

RATE_LIMITED = {
    "error": {
        "message": "(#130429) Rate limit hit",
        "type": "OAuthException",
        "code": 130429,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": "Cloud API message throughput has been reached.",
        },
        "fbtrace_id": "A1b2C3d4E5f6",
    }
}
"""Graph's throughput error (WhatsApp itself sends no Retry-After; a proxy or Meta edge may)."""


def sign(body: bytes, secret: str = APP_SECRET) -> InboundRequest:
    """A webhook POST signed exactly like Meta signs it."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-hub-signature-256": f"sha256={digest}"}
    return request(body, headers)


SPECS = [
    AdapterSpec(
        adapter=WhatsAppChannel(),
        connection=CONNECTION,
        sign=sign,
        payloads=[reference_payload(name) for name in PAYLOAD_NAMES],
        recipient=RECIPIENT,
        ok_response=lambda _r: httpx.Response(200, json=SEND_OK),
        rate_limited=lambda _r: httpx.Response(
            400, headers={"retry-after": "7"}, json=RATE_LIMITED
        ),
        signature_headers=("x-hub-signature-256",),
    )
]
