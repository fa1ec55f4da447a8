"""Conformance specs for Messenger and Instagram (Meta webhooks, Graph Send API)."""

from __future__ import annotations

import hashlib
import hmac

import httpx
from tests.channels.conformance import AdapterSpec, connection, reference_payload, request

from toonbank.channels.base import Connection, InboundRequest
from toonbank.channels.meta import InstagramChannel, MessengerChannel

APP_SECRET = "meta-app-secret"
PAGE_TOKEN = "EAAG-page-access-token"
VERIFY_TOKEN = "meta-verify-token"
PAGE_ID = "1234567890"
"""The Page / Instagram account id of the recorded payloads (``entry[].id``)."""
PSID = "5678"
MID = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"
"""The message id of Meta's Send API docs sample response."""

MESSENGER_PAYLOADS = [
    "messenger_text_inbound.json",
    "messenger_postback_inbound.json",
    "messenger_location_attachment_inbound.json",
    "messenger_delivery_receipt.json",
]
INSTAGRAM_PAYLOADS = ["instagram_text_inbound.json", "instagram_story_mention_inbound.json"]


def meta_connection(type: str, **settings: str) -> Connection:
    """A connection with the Meta secrets and ``page_id`` (plus any extra settings)."""
    secrets = {"app_secret": APP_SECRET, "page_access_token": PAGE_TOKEN}
    secrets["verify_token"] = VERIFY_TOKEN
    return connection(type, secrets, {"page_id": PAGE_ID, **settings})


def signed(body: bytes, secret: str = APP_SECRET) -> InboundRequest:
    """A webhook POST signed as Meta signs it: hex HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}
    return request(body, headers)


def sent(_request: httpx.Request) -> httpx.Response:
    """The Send API's success answer (docs sample)."""
    return httpx.Response(200, json={"recipient_id": PSID, "message_id": MID})


def rate_limited(_request: httpx.Request) -> httpx.Response:
    """Graph's throttling error (code 613), here with a Retry-After of 7 seconds."""
    error = {
        "message": "(#613) Calls to this api have exceeded the rate limit.",
        "type": "OAuthException",
        "code": 613,
        "fbtrace_id": "AbCdEfGhIjK",
    }
    return httpx.Response(400, headers={"retry-after": "7"}, json={"error": error})


SPECS = [
    AdapterSpec(
        adapter=MessengerChannel(),
        connection=meta_connection("messenger"),
        sign=signed,
        payloads=[reference_payload(name) for name in MESSENGER_PAYLOADS],
        recipient=PSID,
        ok_response=sent,
        rate_limited=rate_limited,
        signature_headers=("x-hub-signature-256",),
    ),
    AdapterSpec(
        adapter=InstagramChannel(),
        connection=meta_connection("instagram", instagram_account_id=PAGE_ID),
        sign=signed,
        payloads=[reference_payload(name) for name in INSTAGRAM_PAYLOADS],
        recipient=PSID,
        ok_response=sent,
        rate_limited=rate_limited,
        signature_headers=("x-hub-signature-256",),
    ),
]
