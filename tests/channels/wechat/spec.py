"""Conformance spec for the WeChat Official Account channel.

The spec signs in *safe mode*: WeChat's plaintext-mode signature covers only the query (token,
timestamp, nonce), never the body, so only safe mode (``msg_signature`` over the ``<Encrypt>``
text, AES with the AppID inside) lets a tampered body be detected. The recorded plaintext
payloads are encrypted exactly as WeChat does before they reach the adapter.
"""

from __future__ import annotations

import hashlib
import time

import httpx
from tests.channels.conformance import AdapterSpec, connection, reference_payload, request

from toonbank.channels.base import InboundRequest
from toonbank.channels.wechat import WeChatChannel
from toonbank.channels.wechat.crypto import MessageCrypto

APP_ID = "wx49f0ab532d5d035a"
APP_SECRET = "wechat-app-secret"
TOKEN = "wechat-token"
ENCODING_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
NONCE = "1320562132"

PAYLOADS = [
    reference_payload(f"wechat_{name}.xml")
    for name in ("text_inbound", "image_inbound", "location_inbound")
] + [reference_payload(f"wechat_event_{name}.xml") for name in ("subscribe", "menu_click")]


def sha1_signature(*parts: str) -> str:
    """WeChat's signature, written out independently of the adapter."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - the protocol


def plain_query(timestamp: str | None = None, nonce: str = NONCE) -> dict[str, str]:
    ts = timestamp or str(int(time.time()))
    return {"signature": sha1_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}


def safe_envelope(xml: bytes, *, random_prefix: bytes | None = None) -> tuple[bytes, str]:
    """The safe-mode body WeChat posts for ``xml`` and its ``<Encrypt>`` text."""
    encrypted = MessageCrypto(ENCODING_AES_KEY, APP_ID).encrypt(xml.decode(), random_prefix)
    body = (
        "<xml><ToUserName><![CDATA[gh_1234567890ab]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return body.encode(), encrypted


def signed_safe(xml: bytes, *, timestamp: str | None = None) -> InboundRequest:
    """A safe-mode POST as WeChat sends it (query: signature, msg_signature, encrypt_type)."""
    body, encrypted = safe_envelope(xml)
    query = plain_query(timestamp)
    query.update(
        openid=OPENID,
        encrypt_type="aes",
        msg_signature=sha1_signature(TOKEN, query["timestamp"], query["nonce"], encrypted),
    )
    return request(body, {"content-type": "text/xml"}, query=query)


def signed_plain(xml: bytes, *, timestamp: str | None = None) -> InboundRequest:
    """A plaintext-mode POST (query signature only)."""
    return request(xml, {"content-type": "text/xml"}, query=plain_query(timestamp))


def wechat_ok(req: httpx.Request) -> httpx.Response:
    """``/cgi-bin/token`` hands out a token; the send API answers errcode 0."""
    if req.url.path == "/cgi-bin/token":
        return httpx.Response(200, json={"access_token": "ACCESS_TOKEN", "expires_in": 7200})
    return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


def minute_quota(_req: httpx.Request) -> httpx.Response:
    """WeChat's API-frequency answer (errcode 45011, HTTP 200) with a 7-second hint."""
    return httpx.Response(
        200,
        headers={"retry-after": "7"},
        json={
            "errcode": 45011,
            "errmsg": "api minute-quota reach limit mustslower retry next minute",
        },
    )


SAFE_CONNECTION = connection(
    "wechat",
    {"app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": ENCODING_AES_KEY},
    {"app_id": APP_ID},
    api_base_url="https://wechat.test",
)

PLAIN_CONNECTION = connection(
    "wechat",
    {"app_secret": APP_SECRET, "token": TOKEN},
    {"app_id": APP_ID},
    api_base_url="https://wechat.test",
)

SPECS = [
    AdapterSpec(
        adapter=WeChatChannel(),
        connection=SAFE_CONNECTION,
        sign=signed_safe,
        payloads=PAYLOADS,
        recipient=OPENID,
        ok_response=wechat_ok,
        rate_limited=minute_quota,
        signature_headers=(),
    )
]
