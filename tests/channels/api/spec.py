"""Conformance spec for the custom API channel (our own signed-JSON protocol)."""

from __future__ import annotations

import json

import httpx
from tests.channels.conformance import AdapterSpec, connection, request

from toonbank.channels.api import ApiChannel, signed_headers

SECRET = "api-secret"
MESSAGE = json.dumps(
    {
        "messages": [
            {"id": "ext-1", "from": "cust-1", "content": {"type": "text", "text": "hi"}},
        ],
        "statuses": [{"id": "prov-1", "status": "delivered"}],
    }
).encode()

SPECS = [
    AdapterSpec(
        adapter=ApiChannel(),
        connection=connection("api", {"webhook_secret": SECRET}),
        sign=lambda body: request(body, signed_headers(SECRET, body)),
        payloads=[MESSAGE],
        recipient="cust-1",
        ok_response=lambda _r: httpx.Response(200, json={"id": "prov-9"}),
        signature_headers=("x-toonbank-signature", "x-toonbank-timestamp"),
    )
]
