"""Conformance spec for Twilio Programmable Messaging (SMS, MMS, WhatsApp via Twilio)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs

import httpx
from tests.channels.conformance import AdapterSpec, connection, reference_payload, request

from toonbank.channels.base import InboundRequest
from toonbank.channels.twilio import TwilioChannel

ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "twilio-auth-token"
FROM_NUMBER = "+12028831111"
MESSAGE_SID = "SM1f0e8ae6ade43cb3c0ce4525424e404f"
WEBHOOK_URL = "https://toonbank.test/webhooks/conn-test?channel=sms"

PAYLOADS = [
    reference_payload(f"twilio_{name}.form")
    for name in (
        "sms_inbound",
        "mms_inbound_media",
        "whatsapp_inbound",
        "whatsapp_inbound_button",
        "status_delivered",
        "status_failed_21610_stop",
        "status_failed_63018_ratelimit",
        "status_sent_messaging_service",
    )
]


def twilio_signature(token: str, url: str, body: bytes) -> str:
    """X-Twilio-Signature as Twilio computes it, written out independently of the SDK."""
    params = parse_qs(body.decode(), keep_blank_values=True)
    data = url + "".join(
        name + value for name in sorted(params) for value in sorted(set(params[name]))
    )
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed(body: bytes, *, url: str = WEBHOOK_URL, token: str = AUTH_TOKEN) -> InboundRequest:
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": twilio_signature(token, url, body),
    }
    return request(body, headers, url=url)


def message_created(_request: httpx.Request) -> httpx.Response:
    """Twilio's 201 answer: the new Message resource."""
    return httpx.Response(
        201,
        json={
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": "Hello! How can I help?",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": FROM_NUMBER,
            "num_media": "0",
            "num_segments": "1",
            "sid": MESSAGE_SID,
            "status": "queued",
            "to": "+14133881111",
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json",
        },
    )


def too_many_requests(_request: httpx.Request) -> httpx.Response:
    """Twilio's rate-limit answer (error 20429, HTTP 429) asking to wait 7 seconds."""
    return httpx.Response(
        429,
        headers={"retry-after": "7"},
        json={
            "code": 20429,
            "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429",
            "status": 429,
        },
    )


CONNECTION = connection(
    "twilio",
    {"auth_token": AUTH_TOKEN},
    {"account_sid": ACCOUNT_SID, "from_number": FROM_NUMBER},
    api_base_url="https://twilio.test",
)

SPECS = [
    AdapterSpec(
        adapter=TwilioChannel(),
        connection=CONNECTION,
        sign=signed,
        payloads=PAYLOADS,
        recipient="+14133881111",
        ok_response=message_created,
        rate_limited=too_many_requests,
        signature_headers=("x-twilio-signature",),
    )
]
