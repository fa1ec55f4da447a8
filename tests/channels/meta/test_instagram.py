"""Instagram: recorded webhooks, ``changes[]`` deliveries, story events and the byte limit."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.channels.conformance import PRODUCT, Recorder, reference_payload, request
from tests.channels.meta.spec import PAGE_ID, PAGE_TOKEN, PSID, meta_connection, sent, signed

from toonbank.channels.base import DeliveryReceipt, InboundMessage, PayloadError, SignatureError
from toonbank.channels.content import Media, Option, ProductCard, QuickReplies, Reply, Text
from toonbank.channels.meta import InstagramChannel
from toonbank.channels.registry import ADAPTERS
from toonbank.channels.render import degrade

ADAPTER = InstagramChannel()
CONNECTION = meta_connection("instagram", instagram_account_id=PAGE_ID)
WHEN = datetime(2016, 4, 7, 1, 11, 27, 970000, tzinfo=UTC)


def ig_event(event: dict[str, Any], account: str = PAGE_ID) -> bytes:
    """An Instagram webhook body around one messaging event."""
    base = {"sender": {"id": PSID}, "recipient": {"id": account}, "timestamp": 1459991487970}
    entry = {"id": account, "time": 1459991487970, "messaging": [{**base, **event}]}
    return json.dumps({"object": "instagram", "entry": [entry]}).encode()


def parse(body: bytes, connection: Any = CONNECTION) -> list[Any]:
    signed_request = signed(body)
    ADAPTER.verify(signed_request, connection)
    return ADAPTER.parse(signed_request, connection)


def test_manifest() -> None:
    manifest = InstagramChannel.manifest
    module, _, name = ADAPTERS["instagram"].partition(":")
    assert getattr(importlib.import_module(module), name) is InstagramChannel
    assert manifest.type == "instagram"
    assert "page_id" in manifest.required_settings and "page_id" not in manifest.secret_settings
    assert set(manifest.secret_settings) == {"app_secret", "page_access_token", "verify_token"}
    caps = manifest.capabilities
    assert caps.max_buttons == 13 and caps.product_card and caps.carousel and caps.payment_link
    assert caps.max_text_length == 1000 and not caps.location and not caps.contact_card


def test_recorded_text_message() -> None:
    assert parse(reference_payload("instagram_text_inbound.json")) == [
        InboundMessage(
            provider_message_id="external_id",
            sender_id="5678",
            content=Text(text="Hello World"),
            timestamp=WHEN,
        )
    ]


def test_recorded_story_mention() -> None:
    assert parse(reference_payload("instagram_story_mention_inbound.json")) == [
        InboundMessage(
            provider_message_id="external_id",
            sender_id="5678",
            content=Media(kind="image", url="https://story-url", caption="Story mention"),
            timestamp=WHEN,
            extra={"story_mention": "https://story-url"},
        )
    ]


def test_changes_shape_from_the_app_dashboard_test_button() -> None:
    value = {
        "sender": {"id": "12334"},
        "recipient": {"id": "23245"},
        "timestamp": "1527459824",
        "message": {"mid": "random_mid", "text": "random_text"},
    }
    comment = {"field": "comments", "value": {"id": "17865799348089039", "text": "nice"}}
    entry = {
        "id": "0",
        "time": 1527459824,
        "changes": [{"field": "messages", "value": value}, comment],
    }
    body = json.dumps({"object": "instagram", "entry": [entry]}).encode()
    unfiltered = replace(CONNECTION, settings={"page_id": PAGE_ID})
    assert parse(body, unfiltered) == [
        InboundMessage(
            provider_message_id="random_mid",
            sender_id="12334",
            content=Text(text="random_text"),
            timestamp=datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC),
        )
    ]
    assert parse(body) == []  # entry "0" is not the configured Instagram account


def test_quick_reply_and_postback() -> None:
    quick = ig_event(
        {"message": {"mid": "m_q", "text": "Red", "quick_reply": {"payload": "c:red"}}}
    )
    postback = ig_event({"postback": {"mid": "m_p", "title": "Buy", "payload": "buy:1"}})
    assert [e.content for e in parse(quick) + parse(postback)] == [
        Reply(payload="c:red", title="Red"),
        Reply(payload="buy:1", title="Buy"),
    ]


def test_story_reply_and_message_reply() -> None:
    story = {"id": "17890", "url": "https://lookaside.test/story"}
    body = ig_event({"message": {"mid": "m_s", "text": "love it", "reply_to": {"story": story}}})
    [event] = parse(body)
    assert event.reply_to is None and event.extra == {"reply_to_story": story}
    body = ig_event({"message": {"mid": "m_r", "text": "yes", "reply_to": {"mid": "m_ours"}}})
    assert parse(body)[0].reply_to == "m_ours"


def test_shares_and_reels() -> None:
    attachments = [
        {"type": "share", "payload": {"url": "https://lookaside.test/post.jpg"}},
        {"type": "ig_reel", "payload": {"url": "https://lookaside.test/r.mp4", "title": "Fit"}},
    ]
    events = parse(ig_event({"message": {"mid": "m_sh", "attachments": attachments}}))
    assert [(e.provider_message_id, e.content) for e in events] == [
        ("m_sh", Media(kind="image", url="https://lookaside.test/post.jpg")),
        ("m_sh#1", Media(kind="video", url="https://lookaside.test/r.mp4", caption="Fit")),
    ]


def test_seen_event_with_mid_is_a_read_receipt() -> None:
    assert parse(ig_event({"read": {"mid": "m_ours"}})) == [
        DeliveryReceipt(provider_message_id="m_ours", status="read", timestamp=WHEN)
    ]


@pytest.mark.parametrize(
    "event",
    [
        {"message": {"mid": "m_x", "is_deleted": True}},
        {"message": {"mid": "m_x", "text": "ours", "is_echo": True}},
        {"message": {"mid": "m_x", "is_unsupported": True}},
        {"reaction": {"mid": "m_x", "action": "react", "reaction": "love"}},
    ],
)
def test_unsent_echoed_unsupported_and_reactions_are_skipped(event: dict[str, Any]) -> None:
    assert parse(ig_event(event)) == []


def test_a_messenger_body_is_not_an_instagram_body() -> None:
    with pytest.raises(PayloadError):
        parse(reference_payload("messenger_text_inbound.json"))


def test_signature_is_required() -> None:
    body = reference_payload("instagram_text_inbound.json")
    with pytest.raises(SignatureError):
        ADAPTER.verify(request(body, {"content-type": "application/json"}), CONNECTION)


def test_handshake() -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "meta-verify-token",
        "hub.challenge": "42",
    }
    answer = ADAPTER.handshake(request(b"", method="GET", query=query), CONNECTION)
    assert (answer.status, answer.body) == (200, b"42")


async def _send(content: Any) -> list[dict[str, Any]]:
    recorder = Recorder(sent)
    async with recorder.client() as http:
        await ADAPTER.send(http, CONNECTION, PSID, content, idempotency_key="k")
    for sent_request in recorder.requests:
        assert str(sent_request.url).startswith("https://provider.test/v21.0/me/messages?")
        assert sent_request.url.params["access_token"] == PAGE_TOKEN
    return [json.loads(r.content) for r in recorder.requests]


async def test_quick_replies_body_as_in_the_instagram_docs() -> None:
    options = [Option(title="Red", payload="c:red"), Option(title="Blue", payload="c:blue")]
    assert await _send(QuickReplies(text="Which colour?", options=options)) == [
        {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {
                "text": "Which colour?",
                "quick_replies": [
                    {"content_type": "text", "title": "Red", "payload": "c:red"},
                    {"content_type": "text", "title": "Blue", "payload": "c:blue"},
                ],
            },
        }
    ]


async def test_texts_over_1000_utf8_bytes_are_split() -> None:
    text = " ".join(["café"] * 199)  # 994 characters but 1193 bytes
    [part] = degrade(Text(text=text), InstagramChannel.manifest.capabilities)
    bodies = await _send(part)
    assert len(bodies) == 2
    assert all(len(b["message"]["text"].encode()) <= 1000 for b in bodies)
    assert " ".join(b["message"]["text"] for b in bodies) == text


async def test_quick_replies_ride_on_the_last_piece_of_a_long_text() -> None:
    text = " ".join(["naïve"] * 170)  # 1019 characters, 1189 bytes
    content = QuickReplies(text=text, options=[Option(title="OK", payload="ok")])
    bodies = await _send(content)
    assert len(bodies) == 2 and "quick_replies" not in bodies[0]["message"]
    assert bodies[-1]["message"]["quick_replies"][0]["payload"] == "ok"


async def test_product_card_is_a_generic_template() -> None:
    [body] = await _send(ProductCard(product=PRODUCT))
    payload = body["message"]["attachment"]["payload"]
    assert payload["template_type"] == "generic"
    assert payload["elements"][0]["buttons"] == [
        {"type": "postback", "title": "Add to cart", "payload": "cart:add:sku-1"}
    ]
