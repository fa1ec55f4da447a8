"""Messenger: recorded webhooks → exact events, signatures, handshake, Send API bodies, errors."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tests.channels.conformance import (
    PRODUCT,
    Recorder,
    reference_payload,
    request,
    signature_vectors,
)
from tests.channels.meta.spec import (
    APP_SECRET,
    MID,
    PAGE_TOKEN,
    PSID,
    VERIFY_TOKEN,
    meta_connection,
    rate_limited,
    sent,
    signed,
)

from toonbank.channels.base import (
    DeliveryReceipt,
    InboundMessage,
    PayloadError,
    SendError,
    SignatureError,
)
from toonbank.channels.content import (
    ContactCard,
    LineItem,
    Location,
    Media,
    Option,
    OrderSummary,
    PaymentLink,
    ProductCard,
    ProductCarousel,
    QuickReplies,
    Reply,
    Text,
)
from toonbank.channels.meta import MessengerChannel, messaging_fields, signature
from toonbank.channels.registry import ADAPTERS
from toonbank.channels.render import degrade

ADAPTER = MessengerChannel()
CONNECTION = meta_connection("messenger")
WHEN = datetime(2016, 4, 7, 1, 11, 27, 970000, tzinfo=UTC)  # 1459991487970 ms
URL = f"https://provider.test/v21.0/me/messages?access_token={PAGE_TOKEN}"


def parse(name: str, connection: Any = CONNECTION) -> list[Any]:
    """Verify and parse a recorded payload."""
    signed_request = signed(reference_payload(name))
    ADAPTER.verify(signed_request, connection)
    return ADAPTER.parse(signed_request, connection)


def page_event(event: dict[str, Any], page: str = "1234567890") -> bytes:
    """A Messenger webhook body around one messaging event (Meta's documented envelope)."""
    base = {"sender": {"id": PSID}, "recipient": {"id": page}, "timestamp": 1459991487970}
    entry = {"id": page, "time": 1459991487970, "messaging": [{**base, **event}]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


# ------------------------------------------------------------------------------------------
# Manifest
# ------------------------------------------------------------------------------------------


def test_manifest_names_meta_settings_and_native_capabilities() -> None:
    manifest = MessengerChannel.manifest
    assert ADAPTERS["messenger"] == "toonbank.channels.meta:MessengerChannel"
    module, _, name = ADAPTERS["messenger"].partition(":")
    assert getattr(importlib.import_module(module), name) is MessengerChannel
    assert manifest.type == "messenger"
    assert set(manifest.required_settings) == {
        "app_secret",
        "page_access_token",
        "page_id",
        "verify_token",
    }
    assert set(manifest.secret_settings) == {"app_secret", "page_access_token", "verify_token"}
    caps = manifest.capabilities
    assert caps.max_buttons == 13 and caps.product_card and caps.carousel and caps.payment_link
    assert caps.order_summary  # receipt template
    assert not (caps.location or caps.contact_card or caps.list_picker)
    assert caps.media == {"image", "audio", "video", "file"} and caps.max_text_length == 2000
    assert manifest.default_rate_per_second == 40 and not manifest.idempotent_sends


# ------------------------------------------------------------------------------------------
# Recorded payloads → exact events
# ------------------------------------------------------------------------------------------


def test_text_message() -> None:
    assert parse("messenger_text_inbound.json") == [
        InboundMessage(
            provider_message_id="external_id",
            sender_id="5678",
            content=Text(text="Hello World"),
            timestamp=WHEN,
        )
    ]


def test_postback_without_mid_gets_a_stable_id_from_sender_and_timestamp() -> None:
    [event] = parse("messenger_postback_inbound.json")
    assert event == InboundMessage(
        provider_message_id="postback:5678:1459991487970",
        sender_id="5678",
        content=Reply(payload="postback payload", title="postback title"),
        timestamp=WHEN,
        extra={
            "referral": {
                "ref": "postback ref",
                "source": "postback source",
                "type": "postback type",
            }
        },
    )
    assert parse("messenger_postback_inbound.json") == [event]  # Meta's retry: same key


def test_postback_with_mid_uses_it() -> None:
    body = page_event({"postback": {"mid": "m_pb1", "title": "Buy", "payload": "cart:add:1"}})
    [event] = ADAPTER.parse(signed(body), CONNECTION)
    assert event.provider_message_id == "m_pb1"
    assert event.content == Reply(payload="cart:add:1", title="Buy")


def test_location_attachment() -> None:
    assert parse("messenger_location_attachment_inbound.json") == [
        InboundMessage(
            provider_message_id="external_id",
            sender_id="5678",
            content=Location(latitude=1.2, longitude=-1.3),
            timestamp=WHEN,
        )
    ]


def test_delivery_receipt_gives_one_receipt_per_mid() -> None:
    assert parse("messenger_delivery_receipt.json") == [
        DeliveryReceipt(
            provider_message_id="mid.1458668856218:ed81099e15d3f4f233",
            status="delivered",
            timestamp=datetime(2016, 4, 7, 1, 11, 27, 970000, tzinfo=UTC),
        )
    ]


def test_quick_reply_tap_is_a_reply_with_the_button_title() -> None:
    connection = replace(CONNECTION, settings={"page_id": "PAGE_ID"})
    assert parse("messenger_quick_reply_inbound.json", connection) == [
        InboundMessage(
            provider_message_id="mid.1457764197618:41d102a3e1ae206a38",
            sender_id="USER_ID",
            content=Reply(payload="DEVELOPER_DEFINED_PAYLOAD", title="hello, world!"),
            timestamp=datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC),
        )
    ]


def test_entries_for_other_pages_are_ignored() -> None:
    # Meta sends every Page subscribed to the app to one callback URL.
    assert parse("messenger_quick_reply_inbound.json") == []


def test_media_attachments_and_text_become_one_event_each() -> None:
    image = {"type": "image", "payload": {"url": "https://scontent.test/a.jpg"}}
    video = {"type": "video", "payload": {"url": "https://video.test/b.mp4"}}
    body = page_event(
        {
            "message": {
                "mid": "m_1",
                "text": "look",
                "attachments": [image, video],
                "reply_to": {"mid": "m_0"},
            }
        }
    )
    events = ADAPTER.parse(signed(body), CONNECTION)
    assert [(e.provider_message_id, e.content, e.reply_to) for e in events] == [
        ("m_1", Text(text="look"), "m_0"),
        ("m_1#1", Media(kind="image", url="https://scontent.test/a.jpg"), "m_0"),
        ("m_1#2", Media(kind="video", url="https://video.test/b.mp4"), "m_0"),
    ]


def test_file_audio_and_fallback_attachments() -> None:
    attachments = [
        {"type": "file", "payload": {"url": "https://cdn.test/invoice.pdf"}},
        {"type": "audio", "payload": {"url": "https://cdn.test/voice.mp4"}},
        {"type": "fallback", "payload": {"url": "https://shop.test/p/1", "title": "Blazer"}},
        {"type": "template", "payload": {"template_type": "generic"}},
    ]
    body = page_event({"message": {"mid": "m_2", "attachments": attachments}})
    contents = [e.content for e in ADAPTER.parse(signed(body), CONNECTION)]
    assert contents == [
        Media(kind="file", url="https://cdn.test/invoice.pdf"),
        Media(kind="audio", url="https://cdn.test/voice.mp4"),
        Text(text="Blazer\nhttps://shop.test/p/1"),
    ]


@pytest.mark.parametrize(
    "event",
    [
        {"message": {"mid": "m_echo", "text": "our own send", "is_echo": True}},
        {"read": {"watermark": 1458668856253}},  # names no message: cannot be a receipt
        {"delivery": {"watermark": 1458668856253}},
        {"reaction": {"mid": "m_1", "action": "react", "reaction": "love", "emoji": "❤"}},
        {"optin": {"ref": "x"}},
    ],
)
def test_echoes_watermark_only_receipts_and_unknown_events_are_skipped(
    event: dict[str, Any],
) -> None:
    assert ADAPTER.parse(signed(page_event(event)), CONNECTION) == []


def test_read_receipt_with_mids_is_mapped() -> None:
    body = page_event({"read": {"watermark": 1458668856253, "mids": ["m_a", "m_b"]}})
    events = ADAPTER.parse(signed(body), CONNECTION)
    assert [(e.provider_message_id, e.status) for e in events] == [("m_a", "read"), ("m_b", "read")]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"object": "instagram", "entry": []}).encode(),
        json.dumps({"object": "page", "entry": {"id": "1"}}).encode(),
        json.dumps({"object": "page", "entry": [{"id": "1234567890", "messaging": {}}]}).encode(),
    ],
)
def test_bodies_not_in_messengers_format_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        ADAPTER.parse(signed(body), CONNECTION)


# ------------------------------------------------------------------------------------------
# Signatures and handshake
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", signature_vectors()["meta_x_hub_signature_256"])
def test_known_answer_signature_vectors(vector: dict[str, str]) -> None:
    body, secret = vector["body"].encode(), vector["secret"]
    assert signature(secret, body) == "sha256=" + vector["expected_hex"]
    connection = replace(CONNECTION, secrets={**CONNECTION.secrets, "app_secret": secret})
    header = {"X-Hub-Signature-256": "sha256=" + vector["expected_hex"]}
    ADAPTER.verify(request(body, header), connection)
    upper = {"X-Hub-Signature-256": "sha256=" + vector["expected_hex"].upper()}
    ADAPTER.verify(request(body, upper), connection)
    with pytest.raises(SignatureError):
        ADAPTER.verify(request(body + b" ", header), connection)


def test_legacy_sha1_signature_alone_is_rejected() -> None:
    [vector] = signature_vectors()["meta_legacy_x_hub_signature_sha1"]
    body = vector["body"].encode()
    sha1 = hmac.new(vector["secret"].encode(), body, hashlib.sha1).hexdigest()
    assert sha1 == vector["expected_hex"]  # the vector is a genuine legacy signature…
    connection = replace(CONNECTION, secrets={**CONNECTION.secrets, "app_secret": vector["secret"]})
    with pytest.raises(SignatureError, match="X-Hub-Signature-256"):  # …and still not enough
        ADAPTER.verify(request(body, {"X-Hub-Signature": f"sha1={sha1}"}), connection)


@pytest.mark.parametrize(
    "value",
    ["", "sha256=", "sha256=zz" + "0" * 62, "sha1=" + "0" * 40, "0" * 64, "sha256=" + "0" * 63],
)
def test_malformed_signature_headers_are_rejected(value: str) -> None:
    body = reference_payload("messenger_text_inbound.json")
    with pytest.raises(SignatureError):
        ADAPTER.verify(request(body, {"X-Hub-Signature-256": value}), CONNECTION)


def test_missing_app_secret_rejects() -> None:
    body = reference_payload("messenger_text_inbound.json")
    connection = replace(CONNECTION, secrets={"page_access_token": PAGE_TOKEN})
    with pytest.raises(SignatureError, match="app_secret"):
        ADAPTER.verify(signed(body), connection)


def _hub(**query: str) -> Any:
    return request(b"", method="GET", query=query)


def test_handshake_echoes_the_challenge() -> None:
    answer = ADAPTER.handshake(
        _hub(
            **{
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            }
        ),
        CONNECTION,
    )
    assert (answer.status, answer.body, answer.media_type) == (200, b"1158201444", "text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
)
def test_handshake_refuses_anything_else(query: dict[str, str]) -> None:
    assert ADAPTER.handshake(_hub(**query), CONNECTION).status == 403


# ------------------------------------------------------------------------------------------
# Send API bodies
# ------------------------------------------------------------------------------------------


async def _send(content: Any, **kwargs: Any) -> tuple[list[Any], Any]:
    """Send through a recording transport; returns the JSON bodies and the result."""
    recorder = Recorder(sent)
    async with recorder.client() as http:
        result = await ADAPTER.send(
            http,
            kwargs.pop("connection", CONNECTION),
            PSID,
            content,
            idempotency_key="toonbank-1",
            **kwargs,
        )
    for sent_request in recorder.requests:
        assert sent_request.method == "POST"
        assert sent_request.headers["content-type"] == "application/json"
    return [json.loads(r.content) for r in recorder.requests], (result, recorder.requests)


async def test_text_goes_to_me_messages_with_the_page_token() -> None:
    bodies, (result, requests) = await _send(Text(text="Hello! How can I help?"))
    assert str(requests[0].url) == URL
    assert bodies == [
        {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "Hello! How can I help?"},
        }
    ]
    assert result.provider_message_id == MID


def test_quick_replies_match_the_recorded_send_api_body() -> None:
    recorded = json.loads(reference_payload("messenger_outbound_quick_replies.json"))
    content = QuickReplies(
        text="Are you happy?",
        options=[Option(title="Yes", payload="Yes"), Option(title="No", payload="No")],
    )
    body = ADAPTER.build_body("12345", content, human_agent=False)
    assert body == {**recorded, "messaging_type": "RESPONSE"}  # recorded one was an UPDATE


def test_human_agent_tag_matches_the_recorded_body() -> None:
    recorded = json.loads(reference_payload("messenger_outbound_human_agent_tag.json"))
    content = Text(text="Simple Message")
    assert ADAPTER.build_body("12345", content, human_agent=True) == recorded
    standard = ADAPTER.build_body("12345", content, human_agent=False)
    assert standard == {
        "recipient": {"id": "12345"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Simple Message"},
    }
    assert messaging_fields(True) == {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}


async def test_send_with_human_agent_puts_the_tag_on_the_wire() -> None:
    bodies, _ = await _send(Text(text="Sorry for the wait"), human_agent=True)
    assert bodies[0]["messaging_type"] == "MESSAGE_TAG" and bodies[0]["tag"] == "HUMAN_AGENT"


async def test_quick_reply_titles_are_cut_to_20_characters() -> None:
    options = [Option(title="Extra large with long sleeves", payload="size:xl")]
    bodies, _ = await _send(QuickReplies(text="Size?", options=options))
    assert bodies[0]["message"]["quick_replies"] == [
        {"content_type": "text", "title": "Extra large with lo…", "payload": "size:xl"}
    ]


async def test_media_is_sent_by_url_not_reusable_and_the_caption_goes_first() -> None:
    image = Media(kind="image", url="https://shop.test/img/blazer.jpg", caption="The navy one")
    bodies, (result, _) = await _send(image)
    assert [b["message"] for b in bodies] == [
        {"text": "The navy one"},
        {
            "attachment": {
                "type": "image",
                "payload": {"url": "https://shop.test/img/blazer.jpg", "is_reusable": False},
            }
        },
    ]
    assert result.provider_message_id == MID


async def test_file_attachment() -> None:
    bodies, _ = await _send(Media(kind="file", url="https://shop.test/i.pdf", filename="i.pdf"))
    assert bodies[0]["message"] == {
        "attachment": {
            "type": "file",
            "payload": {"url": "https://shop.test/i.pdf", "is_reusable": False},
        }
    }


BLAZER_ELEMENT = {
    "title": "Linen blazer",
    "subtitle": "€129.50 · Navy, size 50",
    "image_url": "https://shop.test/img/blazer.jpg",
    "default_action": {"type": "web_url", "url": "https://shop.test/p/blazer"},
    "buttons": [{"type": "postback", "title": "Add to cart", "payload": "cart:add:sku-1"}],
}


async def test_product_card_is_a_generic_template_after_its_text() -> None:
    bodies, _ = await _send(ProductCard(product=PRODUCT, text="Your blazer"))
    assert [b["message"] for b in bodies] == [
        {"text": "Your blazer"},
        {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "generic", "elements": [BLAZER_ELEMENT]},
            }
        },
    ]


async def test_carousel_is_a_generic_template_with_one_element_per_product() -> None:
    bare = PRODUCT.model_copy(
        update={"id": "sku-2", "title": "Scarf", "buttons": [], "url": None, "subtitle": None}
    )
    bodies, _ = await _send(ProductCarousel(products=[PRODUCT, bare]))
    [body] = bodies
    assert body["message"]["attachment"]["payload"]["elements"] == [
        BLAZER_ELEMENT,
        {"title": "Scarf", "subtitle": "€129.50", "image_url": "https://shop.test/img/blazer.jpg"},
    ]


async def test_a_product_with_nothing_but_a_title_falls_back_to_text() -> None:
    bare = PRODUCT.model_copy(
        update={"buttons": [], "url": None, "subtitle": None, "price": None, "image_url": None}
    )
    bodies, _ = await _send(ProductCard(product=bare))
    assert bodies[0]["message"] == {"text": "Linen blazer"}


async def test_payment_link_is_a_button_template() -> None:
    link = PaymentLink(
        url="https://pay.test/l/abc", amount=13445, currency="EUR", text="Your order"
    )
    bodies, _ = await _send(link)
    assert bodies[0]["message"] == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "button",
                "text": "Your order",
                "buttons": [
                    {"type": "web_url", "url": "https://pay.test/l/abc", "title": "💳 €134.45"}
                ],
            },
        }
    }


def _order(**changes: Any) -> OrderSummary:
    fields: dict[str, Any] = {
        "kind": "order",
        "reference": "TB-1042",
        "currency": "EUR",
        "items": [
            LineItem(title="Linen blazer, navy, 50", quantity=1, unit_price=18995),
            LineItem(title="Silk scarf", quantity=2, unit_price=2450),
        ],
        "shipping": 495,
        "discount": 1000,
        "total": 22885,
        "customer_name": "Anna de Vries",
        "payment_method": "iDEAL",
    }
    return OrderSummary(**{**fields, **changes})


async def test_a_placed_order_is_a_receipt_template_with_exact_amounts() -> None:
    [body], _result = await _send(_order())
    payload = body["message"]["attachment"]["payload"]
    assert payload["template_type"] == "receipt"
    assert payload["order_number"] == "TB-1042" and payload["recipient_name"] == "Anna de Vries"
    assert payload["payment_method"] == "iDEAL" and payload["currency"] == "EUR"
    assert [(e["title"], e["quantity"], e["price"]) for e in payload["elements"]] == [
        ("Linen blazer, navy, 50", 1, 189.95),
        ("Silk scarf", 2, 49.0),
    ]
    assert payload["summary"] == {"subtotal": 238.95, "shipping_cost": 4.95, "total_cost": 228.85}
    assert payload["adjustments"] == [{"name": "Discount", "amount": 10.0}]
    assert body["messaging_type"] == "RESPONSE"


@pytest.mark.parametrize(
    "changes", [{"kind": "cart"}, {"payment_method": None}, {"reference": None}], ids=str
)
async def test_a_cart_or_an_incomplete_order_goes_out_as_text(changes: dict[str, Any]) -> None:
    [body], _result = await _send(_order(**changes))
    assert "attachment" not in body["message"]
    assert "Silk scarf" in body["message"]["text"]


def test_instagram_has_no_receipts_so_orders_are_degraded_first() -> None:
    from toonbank.channels.meta import InstagramChannel

    assert not InstagramChannel.manifest.capabilities.order_summary
    assert MessengerChannel.manifest.capabilities.order_summary


async def test_long_texts_are_split_at_2000_characters() -> None:
    parts = degrade(Text(text="word " * 800), MessengerChannel.manifest.capabilities)
    assert len(parts) == 2
    for part in parts:
        bodies, _ = await _send(part)
        assert len(bodies) == 1 and len(bodies[0]["message"]["text"]) <= 2000


@pytest.mark.parametrize(
    "content",
    [
        Location(latitude=52.37, longitude=4.89, name="Store"),
        ContactCard(name="Service", phones=["+31201234567"]),
    ],
)
async def test_non_native_content_is_degraded_to_text_first(content: Any) -> None:
    parts = degrade(content, MessengerChannel.manifest.capabilities)
    assert all(isinstance(part, Text) for part in parts)
    with pytest.raises(SendError) as caught:
        await _send(content)
    assert caught.value.error_code == "unsupported_content" and not caught.value.retryable


async def test_api_version_setting_and_default_graph_base() -> None:
    custom = meta_connection("messenger", api_version="v25.0")
    _, (_, requests) = await _send(Text(text="hi"), connection=custom)
    assert str(requests[0].url).startswith("https://provider.test/v25.0/me/messages?")
    default = replace(CONNECTION, api_base_url=None)
    _, (_, requests) = await _send(Text(text="hi"), connection=default)
    assert str(requests[0].url).startswith("https://graph.facebook.com/v21.0/me/messages?")


@pytest.mark.parametrize(
    "connection",
    [
        meta_connection("messenger", api_version="21"),
        replace(CONNECTION, secrets={"app_secret": APP_SECRET}),
    ],
)
async def test_configuration_errors_are_permanent(connection: Any) -> None:
    with pytest.raises(SendError) as caught:
        await _send(Text(text="hi"), connection=connection)
    assert caught.value.error_code == "config" and not caught.value.retryable


# ------------------------------------------------------------------------------------------
# Error mapping
# ------------------------------------------------------------------------------------------


def graph_error(status: int, code: int | None, subcode: int | None = None, **headers: str) -> Any:
    error: dict[str, Any] = {"message": "(#x) test", "type": "OAuthException", "fbtrace_id": "A"}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return lambda _r: httpx.Response(status, headers=headers, json={"error": error})


async def _fail(handler: Any) -> SendError:
    recorder = Recorder(handler)
    async with recorder.client() as http:
        with pytest.raises(SendError) as caught:
            await ADAPTER.send(http, CONNECTION, PSID, Text(text="hi"), idempotency_key="k")
    return caught.value


@pytest.mark.parametrize(
    ("status", "code", "subcode", "error_code", "retryable"),
    [
        (400, 10, 2018278, "window_closed", False),
        (400, 551, None, "invalid_recipient", False),
        (400, 100, 2018001, "invalid_recipient", False),
        (401, 190, None, "auth", False),
        (400, 190, 463, "auth", False),
        (400, 100, None, "graph_100", False),
        (400, 10, None, "graph_10", False),
        (400, 2, None, "graph_2", True),
        (500, 1200, None, "graph_1200", True),
        (503, None, None, "http_503", True),
        (400, None, None, "http_400", False),
    ],
)
async def test_graph_errors_are_mapped(
    status: int, code: int | None, subcode: int | None, error_code: str, retryable: bool
) -> None:
    error = await _fail(graph_error(status, code, subcode))
    assert (error.error_code, error.retryable, error.http_status) == (error_code, retryable, status)


@pytest.mark.parametrize("code", [4, 32, 613, 80006])
async def test_rate_limits_wait_60_seconds_without_a_hint(code: int) -> None:
    error = await _fail(graph_error(400, code))
    assert (error.error_code, error.retryable, error.retry_after) == ("rate_limited", True, 60)


async def test_retry_after_header_wins() -> None:
    error = await _fail(rate_limited)
    assert (error.error_code, error.retry_after) == ("rate_limited", 7)


async def test_business_use_case_header_estimate_is_used() -> None:
    usage = json.dumps(
        {
            "112233": [
                {
                    "type": "messenger",
                    "call_count": 100,
                    "total_cputime": 10,
                    "total_time": 20,
                    "estimated_time_to_regain_access": 2,
                }
            ]
        }
    )
    error = await _fail(graph_error(400, 613, **{"x-business-use-case-usage": usage}))
    assert error.retry_after == 120


async def test_non_json_error_body_is_classified_by_status() -> None:
    error = await _fail(lambda _r: httpx.Response(502, text="<html>Bad gateway</html>"))
    assert (error.error_code, error.retryable) == ("http_502", True)
