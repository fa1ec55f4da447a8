"""WeChat Official Account adapter: signatures, safe mode, recorded XML, sends and tokens.

The recorded payloads are wechatpy's copies of the samples in WeChat's official docs; the
extra message types below (voice, video, link, msgmenu taps, other events) are written from the
same docs' XML examples.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from tests.channels.conformance import Recorder, reference_payload, request, signature_vectors
from tests.channels.wechat.spec import (
    APP_ID,
    APP_SECRET,
    ENCODING_AES_KEY,
    OPENID,
    PLAIN_CONNECTION,
    SAFE_CONNECTION,
    TOKEN,
    plain_query,
    safe_envelope,
    sha1_signature,
    signed_plain,
    signed_safe,
    wechat_ok,
)

from toonbank.channels.base import (
    InboundMessage,
    ParsedEvent,
    PayloadError,
    SendError,
    SignatureError,
)
from toonbank.channels.content import (
    Location,
    Media,
    Option,
    Product,
    ProductCard,
    QuickReplies,
    Reply,
    Text,
)
from toonbank.channels.render import degrade
from toonbank.channels.wechat import WeChatChannel
from toonbank.channels.wechat import api as wechat_api
from toonbank.channels.wechat import channel as wechat_channel
from toonbank.channels.wechat.api import forget_access_tokens
from toonbank.channels.wechat.crypto import CryptoError, MessageCrypto, signature

ADAPTER = WeChatChannel()
VECTORS = signature_vectors()["wechat_official_account_signature"]


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    forget_access_tokens()
    yield
    forget_access_tokens()


def at(moment: float) -> SimpleNamespace:
    return SimpleNamespace(time=lambda: moment)


def doc_xml(msg_type: str, fields: str, *, sender: str = "fromUser") -> bytes:
    """A message as in WeChat's docs (plaintext mode)."""
    return (
        f"<xml><ToUserName><![CDATA[toUser]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>1348831860</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{fields}</xml>"
    ).encode()


def parse_plain(xml: bytes) -> list[ParsedEvent]:
    req = signed_plain(xml)
    ADAPTER.verify(req, PLAIN_CONNECTION)
    return ADAPTER.parse(req, PLAIN_CONNECTION)


def parse_safe(xml: bytes) -> list[ParsedEvent]:
    req = signed_safe(xml)
    ADAPTER.verify(req, SAFE_CONNECTION)
    return ADAPTER.parse(req, SAFE_CONNECTION)


# --------------------------------------------------------------------------------------------
# Known-answer vectors
# --------------------------------------------------------------------------------------------


def test_signature_vector() -> None:
    vector = VECTORS[0]
    parts = (vector["token"], vector["timestamp"], vector["nonce"])
    assert signature(*parts) == vector["expected_hex"]


def test_safe_mode_signature_vector_and_decryption() -> None:
    vector = VECTORS[1]
    parts = (vector["token"], vector["timestamp"], vector["nonce"], vector["encrypt"])
    assert signature(*parts) == vector["expected_hex"]
    # The echo string decrypts with the vector's key and carries its id at the end.
    echo = MessageCrypto(vector["encoding_aes_key"], vector["corp_id"]).decrypt(vector["encrypt"])
    assert echo
    with pytest.raises(CryptoError, match="another AppID"):
        MessageCrypto(vector["encoding_aes_key"], "wx-other").decrypt(vector["encrypt"])


WECHATPY_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
WECHATPY_ID = "wx49f0ab532d5d035a"


def test_encryption_matches_wechatpy() -> None:
    """wechatpy tests/test_crypto.py test_encrypt_message (random prefix fixed)."""
    reply = (
        "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"
        "<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"
        "<CreateTime>1411525903</CreateTime>\n</xml>"
    )
    encrypted = MessageCrypto(WECHATPY_KEY, WECHATPY_ID).encrypt(reply, b"1234567890123456")
    assert encrypted == (
        "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNc"
        "BqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5w"
        "Y0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muX"
        "sVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFx"
        "tAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
    )
    assert signature("123456", "1411525903", "461056294", encrypted) == (
        "407518b7649e86ef23978113f92d27afa9296533"
    )


def test_decryption_matches_wechatpy() -> None:
    """wechatpy tests/test_crypto.py test_decrypt_message."""
    encrypted = (
        "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IH"
        "CrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaX"
        "pXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzk"
        "VQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGA"
        "POQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
    )
    assert signature("123456", "1411525903", "461056294", encrypted) == (
        "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
    )
    xml = MessageCrypto(WECHATPY_KEY, WECHATPY_ID).decrypt(encrypted)
    assert "<Content><![CDATA[test]]></Content>" in xml
    assert "<FromUserName><![CDATA[messense]]></FromUserName>" in xml


def test_encryption_round_trip_with_chinese_text() -> None:
    crypto = MessageCrypto(ENCODING_AES_KEY, APP_ID)
    assert crypto.decrypt(crypto.encrypt("<xml>你好</xml>")) == "<xml>你好</xml>"


@pytest.mark.parametrize("key", ["short", "!" * 43])
def test_malformed_aes_keys(key: str) -> None:
    with pytest.raises(CryptoError):
        MessageCrypto(key, APP_ID)


# --------------------------------------------------------------------------------------------
# Handshake
# --------------------------------------------------------------------------------------------


def handshake_request(query: dict[str, str]) -> Any:
    return request(b"", method="GET", query=query)


def test_handshake_with_the_known_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    vector = VECTORS[0]
    monkeypatch.setattr(wechat_channel, "time", at(int(vector["timestamp"]) + 10))
    conn = replace(PLAIN_CONNECTION, secrets={"app_secret": APP_SECRET, "token": vector["token"]})
    query = {
        "signature": vector["expected_hex"],
        "timestamp": vector["timestamp"],
        "nonce": vector["nonce"],
        "echostr": "4815162342",
    }
    answer = ADAPTER.handshake(handshake_request(query), conn)
    assert (answer.status, answer.body, answer.media_type) == (200, b"4815162342", "text/plain")


def test_handshake_rejections() -> None:
    good = {**plain_query(), "echostr": "e"}
    assert ADAPTER.handshake(handshake_request(good), PLAIN_CONNECTION).status == 200
    wrong = {**good, "signature": "0" * 40}
    assert ADAPTER.handshake(handshake_request(wrong), PLAIN_CONNECTION).status == 403
    missing = {k: v for k, v in good.items() if k != "nonce"}
    assert ADAPTER.handshake(handshake_request(missing), PLAIN_CONNECTION).status == 403
    no_echo = {k: v for k, v in good.items() if k != "echostr"}
    assert ADAPTER.handshake(handshake_request(no_echo), PLAIN_CONNECTION).status == 400


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------

TEXT_XML = reference_payload("wechat_text_inbound.xml")


def test_replayed_timestamps_are_rejected() -> None:
    old = str(int(datetime.now(UTC).timestamp()) - 301)
    with pytest.raises(SignatureError, match="tolerance"):
        ADAPTER.verify(signed_plain(TEXT_XML, timestamp=old), PLAIN_CONNECTION)


@pytest.mark.parametrize("param", ["signature", "timestamp", "nonce"])
def test_missing_query_parameters(param: str) -> None:
    req = signed_plain(TEXT_XML)
    stripped = replace(req, query={k: v for k, v in req.query.items() if k != param})
    with pytest.raises(SignatureError, match="missing"):
        ADAPTER.verify(stripped, PLAIN_CONNECTION)


def test_wrong_token() -> None:
    conn = replace(PLAIN_CONNECTION, secrets={"app_secret": APP_SECRET, "token": "other"})
    with pytest.raises(SignatureError, match="does not match"):
        ADAPTER.verify(signed_plain(TEXT_XML), conn)


def test_plaintext_mode_signature_does_not_cover_the_body() -> None:
    """A protocol limitation (documented): use safe mode to authenticate bodies."""
    req = signed_plain(TEXT_XML)
    ADAPTER.verify(
        replace(req, body=TEXT_XML.replace(b"this is a test", b"forged")), PLAIN_CONNECTION
    )


def test_safe_mode_detects_a_changed_body() -> None:
    req = signed_safe(TEXT_XML)
    other_body, _ = safe_envelope(TEXT_XML.replace(b"this is a test", b"forged"))
    with pytest.raises(SignatureError, match="msg_signature"):
        ADAPTER.verify(replace(req, body=other_body), SAFE_CONNECTION)


def test_safe_mode_needs_msg_signature_and_encrypt() -> None:
    req = signed_safe(TEXT_XML)
    without = replace(req, query={k: v for k, v in req.query.items() if k != "msg_signature"})
    with pytest.raises(SignatureError, match="msg_signature"):
        ADAPTER.verify(without, SAFE_CONNECTION)
    with pytest.raises(SignatureError, match="Encrypt"):
        ADAPTER.verify(replace(req, body=TEXT_XML), SAFE_CONNECTION)


def test_safe_mode_rejects_messages_for_another_app() -> None:
    encrypted = MessageCrypto(ENCODING_AES_KEY, "wx-another-app").encrypt(TEXT_XML.decode())
    body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    query = plain_query()
    query.update(
        encrypt_type="aes",
        msg_signature=sha1_signature(TOKEN, query["timestamp"], query["nonce"], encrypted),
    )
    with pytest.raises(SignatureError, match="another AppID"):
        ADAPTER.verify(request(body, query=query), SAFE_CONNECTION)


def test_safe_mode_connection_refuses_unencrypted_requests() -> None:
    with pytest.raises(SignatureError, match="not encrypted"):
        ADAPTER.verify(signed_plain(TEXT_XML), SAFE_CONNECTION)


def test_encrypted_message_without_a_configured_key() -> None:
    req = signed_safe(TEXT_XML)
    ADAPTER.verify(req, PLAIN_CONNECTION)  # msg_signature only needs the token
    with pytest.raises(PayloadError, match="encoding_aes_key"):
        ADAPTER.parse(req, PLAIN_CONNECTION)


# --------------------------------------------------------------------------------------------
# Recorded payloads (plaintext and safe mode give the same events)
# --------------------------------------------------------------------------------------------

RECORDED: dict[str, list[InboundMessage]] = {
    "wechat_text_inbound.xml": [
        InboundMessage(
            provider_message_id="1234567890123456",
            sender_id="fromUser",
            content=Text(text="this is a test"),
            timestamp=datetime.fromtimestamp(1348831860, UTC),
        )
    ],
    "wechat_image_inbound.xml": [
        InboundMessage(
            provider_message_id="1234567890123456",
            sender_id="fromUser",
            content=Media(kind="image", url="this is a url"),
            timestamp=datetime.fromtimestamp(1348831860, UTC),
        )
    ],
    "wechat_location_inbound.xml": [
        InboundMessage(
            provider_message_id="1234567890123456",
            sender_id="fromUser",
            content=Location(latitude=23.134521, longitude=113.358803, address="位置信息"),
            timestamp=datetime.fromtimestamp(1351776360, UTC),
        )
    ],
    "wechat_event_subscribe.xml": [
        InboundMessage(
            provider_message_id="FromUser:123456789:subscribe",
            sender_id="FromUser",
            content=Reply(payload="subscribe"),
            timestamp=datetime.fromtimestamp(123456789, UTC),
            extra={"event": "subscribe", "opt_in": True},
        )
    ],
    "wechat_event_menu_click.xml": [
        InboundMessage(
            provider_message_id="FromUser:123456789:CLICK",
            sender_id="FromUser",
            content=Reply(payload="EVENTKEY"),
            timestamp=datetime.fromtimestamp(123456789, UTC),
            extra={"event": "CLICK"},
        )
    ],
}


@pytest.mark.parametrize("name", sorted(RECORDED))
@pytest.mark.parametrize("parse", [parse_plain, parse_safe], ids=["plaintext", "safe"])
def test_recorded_payloads(name: str, parse: Callable[[bytes], list[ParsedEvent]]) -> None:
    assert parse(reference_payload(name)) == RECORDED[name]


# --------------------------------------------------------------------------------------------
# Other message types (XML as in WeChat's docs)
# --------------------------------------------------------------------------------------------


def only(events: list[ParsedEvent]) -> InboundMessage:
    [event] = events
    assert isinstance(event, InboundMessage)
    return event


def test_msgmenu_tap_is_text_with_the_menu_id() -> None:
    event = only(
        parse_plain(
            doc_xml(
                "text",
                "<Content><![CDATA[L]]></Content><MsgId>42</MsgId><bizmsgmenuid>2</bizmsgmenuid>",
            )
        )
    )
    assert event.content == Text(text="L")
    assert event.extra == {"menu_id": "2"}


def test_voice_with_speech_recognition_becomes_text() -> None:
    fields = (
        "<MediaId><![CDATA[media_id]]></MediaId><Format><![CDATA[amr]]></Format>"
        "<Recognition><![CDATA[腾讯微信团队]]></Recognition><MsgId>1234567890123456</MsgId>"
    )
    event = only(parse_plain(doc_xml("voice", fields)))
    assert event.content == Text(text="腾讯微信团队")
    assert event.extra == {"voice": {"media_id": "media_id", "format": "amr"}}


def test_voice_without_recognition_is_audio() -> None:
    fields = "<MediaId><![CDATA[m1]]></MediaId><Format><![CDATA[amr]]></Format><MsgId>7</MsgId>"
    event = only(parse_plain(doc_xml("voice", fields)))
    assert event.content == Media(kind="audio", url="provider-media://m1", mime_type="audio/amr")


@pytest.mark.parametrize("msg_type", ["video", "shortvideo"])
def test_video(msg_type: str) -> None:
    fields = "<MediaId><![CDATA[v1]]></MediaId><ThumbMediaId><![CDATA[t1]]></ThumbMediaId>"
    event = only(parse_plain(doc_xml(msg_type, fields + "<MsgId>8</MsgId>")))
    assert event.content == Media(kind="video", url="provider-media://v1")


def test_link() -> None:
    fields = (
        "<Title><![CDATA[公众平台官网链接]]></Title><Description><![CDATA[描述]]></Description>"
        "<Url><![CDATA[https://mp.weixin.qq.com]]></Url><MsgId>9</MsgId>"
    )
    event = only(parse_plain(doc_xml("link", fields)))
    assert event.content == Text(text="公众平台官网链接\n描述\nhttps://mp.weixin.qq.com")


def test_unsubscribe_marks_the_contact_opted_out() -> None:
    event = only(parse_plain(doc_xml("event", "<Event><![CDATA[unsubscribe]]></Event>")))
    assert event.provider_message_id == "fromUser:1348831860:unsubscribe"
    assert event.content == Reply(payload="unsubscribe")
    assert event.extra == {"event": "unsubscribe", "opt_out": True}


def test_scan_to_follow_keeps_the_scene() -> None:
    fields = (
        "<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_123123]]></EventKey>"
        "<Ticket><![CDATA[TICKET]]></Ticket>"
    )
    event = only(parse_plain(doc_xml("event", fields)))
    assert event.content == Reply(payload="qrscene_123123")
    assert event.extra == {"event": "subscribe", "opt_in": True}


@pytest.mark.parametrize(
    "fields",
    [
        "<Event><![CDATA[VIEW]]></Event><EventKey><![CDATA[https://shop.test]]></EventKey>",
        "<Event><![CDATA[LOCATION]]></Event><Latitude>23.1</Latitude><Longitude>113.3</Longitude>",
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><Status><![CDATA[success]]></Status>",
    ],
)
def test_other_events_are_skipped(fields: str) -> None:
    assert parse_plain(doc_xml("event", fields)) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>', "DOCTYPE"),
        (b'<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml/>', "DOCTYPE"),
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><xml/>'.encode("utf-16"), "XML"),
        (b'{"MsgType": "text"}', "valid XML"),
        (b"<root><MsgType>text</MsgType></root>", "<xml>"),
        (b"<xml><MsgType>text</MsgType></xml>", "FromUserName"),
        (doc_xml("text", "<Content>hi</Content>"), "MsgId"),
    ],
)
def test_bodies_that_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        ADAPTER.parse(signed_plain(body), PLAIN_CONNECTION)


def test_acknowledge_says_success() -> None:
    answer = ADAPTER.acknowledge([])
    assert (answer.status, answer.body) == (200, b"success")


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------


def sent_json(req: httpx.Request) -> Any:
    return json.loads(req.content)


async def send_with(
    handler: Callable[[httpx.Request], httpx.Response], content: Any, conn: Any = SAFE_CONNECTION
) -> tuple[Any, list[httpx.Request]]:
    recorder = Recorder(handler)
    async with recorder.client() as http:
        result = await ADAPTER.send(http, conn, OPENID, content, idempotency_key="k")
    return result, recorder.requests


async def test_send_text_fetches_a_token_then_posts_utf8_json() -> None:
    result, (token_req, send_req) = await send_with(wechat_ok, Text(text="你好, Ann"))
    assert result.provider_message_id is None
    assert token_req.method == "GET"
    assert token_req.url.path == "/cgi-bin/token"
    assert dict(token_req.url.params) == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": APP_SECRET,
    }
    assert send_req.method == "POST"
    assert str(send_req.url) == (
        "https://wechat.test/cgi-bin/message/custom/send?access_token=ACCESS_TOKEN"
    )
    assert "你好".encode() in send_req.content  # no \\u escapes
    assert sent_json(send_req) == {
        "touser": OPENID,
        "msgtype": "text",
        "text": {"content": "你好, Ann"},
    }


async def test_quick_replies_become_a_msgmenu() -> None:
    options = [Option(title="M", payload="size:m"), Option(title="L", payload="size:l")]
    _, requests = await send_with(wechat_ok, QuickReplies(text="Which size?", options=options))
    assert sent_json(requests[-1]) == {
        "touser": OPENID,
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": "Which size?",
            "list": [{"id": "1", "content": "M"}, {"id": "2", "content": "L"}],
        },
    }


PRODUCT = Product(
    id="sku-1",
    title="Linen blazer",
    price=12950,
    currency="EUR",
    image_url="https://shop.test/img/blazer.jpg",
    url="https://shop.test/p/blazer",
    subtitle="Navy, size 50",
)


async def test_product_card_without_buttons_is_a_news_card() -> None:
    _, requests = await send_with(wechat_ok, ProductCard(product=PRODUCT, text="For you"))
    assert sent_json(requests[-1]) == {
        "touser": OPENID,
        "msgtype": "news",
        "news": {
            "articles": [
                {
                    "title": "Linen blazer — €129.50",
                    "description": "For you\nNavy, size 50",
                    "url": "https://shop.test/p/blazer",
                    "picurl": "https://shop.test/img/blazer.jpg",
                }
            ]
        },
    }


async def test_product_card_with_buttons_is_a_msgmenu() -> None:
    product = PRODUCT.model_copy(update={"buttons": [Option(title="Add to cart", payload="a")]})
    _, requests = await send_with(wechat_ok, ProductCard(product=product))
    assert sent_json(requests[-1])["msgmenu"] == {
        "head_content": "Linen blazer — €129.50\nNavy, size 50\nhttps://shop.test/p/blazer",
        "list": [{"id": "1", "content": "Add to cart"}],
    }


def test_images_and_long_menus_are_degraded() -> None:
    caps = ADAPTER.manifest.capabilities
    [image] = degrade(Media(kind="image", url="https://shop.test/a.jpg", caption="Navy"), caps)
    assert image == Text(text="Navy\nhttps://shop.test/a.jpg")
    options = [Option(title=f"O{i}", payload=f"o{i}") for i in range(11)]
    [menu] = degrade(QuickReplies(text="Pick", options=options), caps)
    assert isinstance(menu, Text) and "11. O10" in menu.text


async def test_content_that_was_not_degraded_is_refused() -> None:
    with pytest.raises(SendError, match="degrade"):
        await send_with(wechat_ok, Media(kind="image", url="https://shop.test/a.jpg"))


# --------------------------------------------------------------------------------------------
# Access tokens
# --------------------------------------------------------------------------------------------


def token_paths(requests: list[httpx.Request]) -> list[str]:
    return [r.url.path for r in requests]


async def test_tokens_are_cached_per_connection() -> None:
    recorder = Recorder(wechat_ok)
    async with recorder.client() as http:
        for _ in range(3):
            await ADAPTER.send(http, SAFE_CONNECTION, OPENID, Text(text="x"), idempotency_key="k")
        other = replace(SAFE_CONNECTION, id="conn-other")
        await ADAPTER.send(http, other, OPENID, Text(text="x"), idempotency_key="k")
    assert token_paths(recorder.requests).count("/cgi-bin/token") == 2


async def test_concurrent_sends_share_one_token_fetch() -> None:
    recorder = Recorder(wechat_ok)
    async with recorder.client() as http:
        await asyncio.gather(
            *(
                ADAPTER.send(http, SAFE_CONNECTION, OPENID, Text(text="x"), idempotency_key="k")
                for _ in range(5)
            )
        )
    assert token_paths(recorder.requests).count("/cgi-bin/token") == 1


async def test_tokens_are_refreshed_before_they_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(wechat_api, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    recorder = Recorder(wechat_ok)
    async with recorder.client() as http:
        await ADAPTER.send(http, SAFE_CONNECTION, OPENID, Text(text="x"), idempotency_key="k")
        clock[0] += 7200 - 300 - 1
        await ADAPTER.send(http, SAFE_CONNECTION, OPENID, Text(text="x"), idempotency_key="k")
        clock[0] += 2
        await ADAPTER.send(http, SAFE_CONNECTION, OPENID, Text(text="x"), idempotency_key="k")
    assert token_paths(recorder.requests).count("/cgi-bin/token") == 2


def rotating_tokens(rejected: set[str]) -> Callable[[httpx.Request], httpx.Response]:
    """Hands out T1, T2, …; sends with a token in ``rejected`` get errcode 40001."""
    issued: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/cgi-bin/token":
            issued.append(f"T{len(issued) + 1}")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 7200})
        if req.url.params["access_token"] in rejected:
            return httpx.Response(200, json={"errcode": 40001, "errmsg": "invalid credential"})
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    return handler


async def test_rejected_token_is_refreshed_and_the_send_retried_once() -> None:
    _, requests = await send_with(rotating_tokens({"T1"}), Text(text="x"))
    assert [(r.url.path, r.url.params.get("access_token")) for r in requests] == [
        ("/cgi-bin/token", None),
        ("/cgi-bin/message/custom/send", "T1"),
        ("/cgi-bin/token", None),
        ("/cgi-bin/message/custom/send", "T2"),
    ]
    # The refreshed token is cached for the next send.
    _, again = await send_with(rotating_tokens(set()), Text(text="y"))
    assert token_paths(again) == ["/cgi-bin/message/custom/send"]


async def test_a_fresh_token_rejected_again_is_an_auth_error() -> None:
    with pytest.raises(SendError) as caught:
        await send_with(rotating_tokens({"T1", "T2"}), Text(text="x"))
    assert (caught.value.retryable, caught.value.error_code) == (False, "auth")


# --------------------------------------------------------------------------------------------
# Error mapping
# --------------------------------------------------------------------------------------------


def failing_send(
    code: int, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/cgi-bin/token":
            return wechat_ok(req)
        return httpx.Response(200, headers=headers, json={"errcode": code, "errmsg": "e"})

    return handler


@pytest.mark.parametrize(
    ("code", "retryable", "error_code", "retry_after"),
    [
        (45015, False, "window_closed", None),
        (45047, False, "window_closed", None),
        (45009, True, "rate_limited", 3600.0),
        (45011, True, "rate_limited", 60.0),
        (-1, True, "provider_busy", 2.0),
        (43004, False, "opted_out", None),
        (40003, False, "invalid_recipient", None),
        (48001, False, "auth", None),
        (45002, False, "wechat_45002", None),
    ],
)
async def test_send_errcodes(
    code: int, retryable: bool, error_code: str, retry_after: float | None
) -> None:
    with pytest.raises(SendError) as caught:
        await send_with(failing_send(code), Text(text="x"))
    error = caught.value
    assert (error.retryable, error.error_code, error.retry_after) == (
        retryable,
        error_code,
        retry_after,
    )
    assert f"errcode {code}" in error.detail


@pytest.mark.parametrize("code", [45011, -1])
async def test_retry_after_header_is_honoured(code: int) -> None:
    with pytest.raises(SendError) as caught:
        await send_with(failing_send(code, {"Retry-After": "7"}), Text(text="x"))
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("code", [40013, 40125, 40164])
async def test_bad_credentials_on_the_token_request(code: int) -> None:
    handler = lambda _r: httpx.Response(200, json={"errcode": code, "errmsg": "invalid"})  # noqa: E731
    with pytest.raises(SendError) as caught:
        await send_with(handler, Text(text="x"))
    assert (caught.value.retryable, caught.value.error_code) == (False, "auth")
    assert "access token request" in caught.value.detail
    assert APP_SECRET not in caught.value.detail


async def test_http_failures() -> None:
    with pytest.raises(SendError) as caught:
        await send_with(lambda _r: httpx.Response(502, text="bad gateway"), Text(text="x"))
    assert caught.value.retryable
    with pytest.raises(SendError) as caught:
        await send_with(lambda _r: httpx.Response(200, text="<html>"), Text(text="x"))
    assert (caught.value.retryable, caught.value.error_code) == (False, "bad_response")


async def test_missing_credentials_are_a_config_error() -> None:
    conn = replace(SAFE_CONNECTION, secrets={"token": TOKEN})
    with pytest.raises(SendError) as caught:
        await send_with(wechat_ok, Text(text="x"), conn=conn)
    assert (caught.value.retryable, caught.value.error_code) == (False, "config")


def test_a_malformed_configured_key_fails_verification() -> None:
    secrets = {**SAFE_CONNECTION.secrets, "encoding_aes_key": "not-a-key"}
    with pytest.raises(SignatureError, match="43-character"):
        ADAPTER.verify(signed_safe(TEXT_XML), replace(SAFE_CONNECTION, secrets=secrets))
