"""LINE adapter: recorded webhooks, signatures (with the official SDK), push requests, errors."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from linebot.v3.messaging import PushMessageRequest
from linebot.v3.webhook import SignatureValidator, WebhookParser
from linebot.v3.webhooks import MessageEvent, PostbackEvent
from tests.channels.conformance import (
    PRODUCT,
    Recorder,
    reference_payload,
    request,
    signature_vectors,
)
from tests.channels.line.spec import (
    ACCESS_TOKEN,
    CHANNEL_SECRET,
    SENT_ID,
    SPECS,
    USER_ID,
    ok_response,
    sign,
    wrapped,
)

from toonbank.channels.base import (
    InboundMessage,
    PayloadError,
    SendError,
    SendResult,
    SignatureError,
)
from toonbank.channels.content import (
    Content,
    ListPicker,
    ListSection,
    Location,
    Media,
    Option,
    ProductCard,
    ProductCarousel,
    QuickReplies,
    Reply,
    Text,
)
from toonbank.channels.line import LineChannel, retry_key, signature
from toonbank.channels.line.render import chunks

ADAPTER = LineChannel()
CONNECTION = SPECS[0].connection
PUSH = "https://provider.test/v2/bot/message/push"
ROOM = "Ra8dbf4673c4c812cd491258042226c99"
GROUP = "Ca56f94637cc4347f90a25382909b24b9"
STAMP = datetime(2016, 5, 7, 13, 57, 59, 859000, tzinfo=UTC)
TOKEN = "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA"
BASE_EXTRA = {"line_message_id": "325708", "reply_token": TOKEN, "is_redelivery": False}
BUY = "action=buyItem&itemId=123123&color=red"


def parse(body: bytes) -> list[Any]:
    inbound = sign(body)
    ADAPTER.verify(inbound, CONNECTION)
    return ADAPTER.parse(inbound, CONNECTION)


def message(content: Content, sender: str = USER_ID, **extra: Any) -> InboundMessage:
    return InboundMessage(
        provider_message_id="testwebhookeventid",
        sender_id=sender,
        content=content,
        timestamp=STAMP,
        extra={**BASE_EXTRA, **extra},
    )


def postback(**params: str) -> InboundMessage:
    return InboundMessage(
        provider_message_id="testwebhookeventid",
        sender_id=USER_ID,
        content=Reply(payload=BUY),
        timestamp=STAMP,
        extra={"postback_params": params, "reply_token": TOKEN, "is_redelivery": False},
    )


# ---------------------------------------------------------------------------------------------
# Recorded webhooks → exact events
# ---------------------------------------------------------------------------------------------


def test_all_events_fixture() -> None:
    events = parse(reference_payload("line_webhook_all_events.json"))
    example = "https://example.com"
    assert events == [
        message(Text(text="Hello, world")),
        message(Media(kind="image", url=example), ROOM, source_type="room"),
        message(Media(kind="video", url=example)),
        message(Media(kind="audio", url=example)),
        message(
            Location(
                latitude=35.65910807942215,
                longitude=139.70372892916203,
                name="my location",
                address="Tokyo",
            )
        ),
        message(
            Media(
                kind="image",
                url="https://stickershop.line-scdn.net/stickershop/v1/sticker/1/android/sticker.png",
                caption="Just sticker",
                mime_type="image/png",
            ),
            sticker={"package_id": "1", "id": "1"},
        ),
        # follow, unfollow, join, leave: skipped
        postback(datetime="2017-12-25T01:00"),
        # two beacons, accountLink: skipped
        message(Text(text="Hello, world"), GROUP, source_type="group", line_user_id=USER_ID),
        message(Text(text="Hello, world"), ROOM, source_type="room", line_user_id=USER_ID),
        postback(date="2013-04-01"),
        postback(time="10:00"),
        postback(datetime="2013-04-01T10:00"),
        # memberJoined, memberLeft: skipped
        message(Media(kind="file", url="provider-media://325708", filename="file.txt")),
        # unsend, videoPlayComplete: skipped
        InboundMessage(
            provider_message_id="testwebhookeventid",
            sender_id=USER_ID,
            content=Media(kind="image", url="provider-media://354718705033693861"),
            timestamp=datetime(2021, 7, 27, 3, 35, 24, 722000, tzinfo=UTC),
            extra={
                "line_message_id": "354718705033693861",
                "image_set": {"id": "E005D41A7288F41B655", "index": 2, "total": 2},
                "reply_token": "fbf94e269485410da6b7e3a5e33283e8",
                "is_redelivery": False,
            },
        ),
        message(Text(text="Hello, world"), is_redelivery=True),
        message(Text(text="Hello, edited world"), edited=True),
        # undefined: skipped
    ]


def test_single_recorded_events() -> None:
    assert parse(wrapped("line_message_text_event.json")) == [message(Text(text="Hello, world"))]
    assert parse(wrapped("line_message_location_event.json")) == [
        message(
            Location(
                latitude=35.65910807942215,
                longitude=139.70372892916203,
                name="my location",
                address="Tokyo",
            )
        )
    ]
    assert parse(wrapped("line_postback_event.json")) == [postback(datetime="2017-12-25T01:00")]
    assert parse(wrapped("line_follow_event.json")) == []


def test_parsing_agrees_with_the_official_sdk() -> None:
    body = reference_payload("line_webhook_all_events.json").decode()
    sdk_events = WebhookParser(CHANNEL_SECRET).parse(body, signature(CHANNEL_SECRET, body.encode()))
    expected = [
        e
        for e in sdk_events
        if isinstance(e, MessageEvent | PostbackEvent) and e.type in ("message", "postback")
    ]
    ours = [e for e in parse(body.encode()) if not e.extra.get("edited")]
    assert len(ours) == len(expected)
    for event, sdk in zip(ours, expected, strict=True):
        assert event.provider_message_id == sdk.webhook_event_id
        assert event.timestamp == datetime.fromtimestamp(sdk.timestamp / 1000, UTC)
        assert event.extra["is_redelivery"] == sdk.delivery_context.is_redelivery
        if isinstance(sdk, MessageEvent):
            assert event.extra["line_message_id"] == sdk.message.id
        else:
            assert event.content == Reply(payload=sdk.postback.data)


def test_verification_request_has_no_events() -> None:
    assert parse(b'{"destination":"xxxxxxxxxx","events":[]}') == []


def test_standby_events_are_left_to_the_active_module() -> None:
    event = json.loads(reference_payload("line_message_text_event.json"))
    event["mode"] = "standby"
    assert parse(json.dumps({"destination": "U1", "events": [event]}).encode()) == []


def test_quoted_message_becomes_reply_to() -> None:
    event = json.loads(reference_payload("line_message_text_event.json"))
    event["message"]["quotedMessageId"] = SENT_ID
    [parsed] = parse(json.dumps({"destination": "U1", "events": [event]}).encode())
    assert parsed.reply_to == SENT_ID


def test_overlong_text_is_cut_and_flagged() -> None:
    event = json.loads(reference_payload("line_message_text_event.json"))
    event["message"]["text"] = "a" * 5000
    [parsed] = parse(json.dumps({"destination": "U1", "events": [event]}).encode())
    assert parsed.content == Text(text="a" * 4096)
    assert parsed.extra["truncated"] is True


@pytest.mark.parametrize("body", [b"nope", b"[]", b'{"destination": "U1"}', b'{"events": [1]}'])
def test_bodies_that_are_not_line_webhooks_are_rejected(body: bytes) -> None:
    with pytest.raises(PayloadError):
        ADAPTER.parse(sign(body), CONNECTION)


# ---------------------------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------------------------


def test_known_answer_vector() -> None:
    for vector in signature_vectors()["line_x_line_signature"]:
        expected = vector["expected_base64"]
        assert signature(vector["secret"], vector["body"].encode()) == expected
        conn = replace(
            CONNECTION, secrets={**CONNECTION.secrets, "channel_secret": vector["secret"]}
        )
        ADAPTER.verify(request(vector["body"].encode(), {"X-Line-Signature": expected}), conn)


def test_signatures_agree_with_the_official_validator() -> None:
    body = reference_payload("line_webhook_all_events.json")
    validator = SignatureValidator(CHANNEL_SECRET)
    assert validator.validate(body.decode(), signature(CHANNEL_SECRET, body))


@pytest.mark.parametrize("header", [None, "", "not-base64!", signature("other-secret", b"{}")])
def test_bad_signatures_are_rejected(header: str | None) -> None:
    headers = {} if header is None else {"X-Line-Signature": header}
    with pytest.raises(SignatureError):
        ADAPTER.verify(request(b"{}", headers), CONNECTION)


# ---------------------------------------------------------------------------------------------
# Push requests
# ---------------------------------------------------------------------------------------------


async def _send(
    content: Content, key: str = "toonbank-1", handler: Any = ok_response
) -> tuple[list[httpx.Request], SendResult]:
    recorder = Recorder(handler)
    async with recorder.client() as http:
        result = await ADAPTER.send(http, CONNECTION, USER_ID, content, idempotency_key=key)
    return recorder.requests, result


def _body(sent: httpx.Request) -> dict[str, Any]:
    assert str(sent.url) == PUSH
    body: dict[str, Any] = json.loads(sent.content)
    PushMessageRequest.from_dict(body)  # the official SDK's model accepts it
    return body


async def test_text_push_with_auth_and_retry_key() -> None:
    [sent], result = await _send(Text(text="Simple Message"))
    assert _body(sent) == {"to": USER_ID, "messages": [{"type": "text", "text": "Simple Message"}]}
    assert sent.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    key = sent.headers["x-line-retry-key"]
    assert uuid.UUID(key).version == 5
    assert result == SendResult(provider_message_id=SENT_ID)


async def test_retry_key_is_stable_per_idempotency_key() -> None:
    [first], _ = await _send(Text(text="hi"), key="toonbank-7")
    [again], _ = await _send(Text(text="hi"), key="toonbank-7")
    [other], _ = await _send(Text(text="hi"), key="toonbank-8")
    assert first.headers["x-line-retry-key"] == again.headers["x-line-retry-key"]
    assert first.headers["x-line-retry-key"] != other.headers["x-line-retry-key"]
    assert first.headers["x-line-retry-key"] == retry_key(CONNECTION, "toonbank-7")


async def test_quick_replies_are_postback_buttons() -> None:
    options = [Option(title="Yes", payload="answer:yes"), Option(title="No", payload="answer:no")]
    [sent], _ = await _send(QuickReplies(text="Are you happy?", options=options))
    body = _body(sent)
    assert body == {
        "to": USER_ID,
        "messages": [
            {
                "type": "text",
                "text": "Are you happy?",
                "quickReply": {
                    "items": [
                        {
                            "type": "action",
                            "action": {
                                "type": "postback",
                                "label": "Yes",
                                "data": "answer:yes",
                                "displayText": "Yes",
                            },
                        },
                        {
                            "type": "action",
                            "action": {
                                "type": "postback",
                                "label": "No",
                                "data": "answer:no",
                                "displayText": "No",
                            },
                        },
                    ]
                },
            }
        ],
    }
    # Same shape as a recorded production push (which uses message actions instead).
    recorded = json.loads(reference_payload("line_outbound_push_quick_reply.json"))
    assert body["messages"][0].keys() == recorded["messages"][0].keys()
    assert [i["type"] for i in body["messages"][0]["quickReply"]["items"]] == ["action", "action"]


async def test_long_titles_are_cut_to_the_label_limit() -> None:
    title = "Extra large with gift wrapping"
    [sent], _ = await _send(QuickReplies(text="?", options=[Option(title=title, payload="xl")]))
    action = _body(sent)["messages"][0]["quickReply"]["items"][0]["action"]
    assert action["label"] == "Extra large with gi…"
    assert action["displayText"] == title


async def test_image_with_caption_is_image_then_text() -> None:
    url = "https://shop.test/img/blazer.jpg"
    [sent], _ = await _send(Media(kind="image", url=url, caption="The navy one"))
    assert _body(sent)["messages"] == [
        {"type": "image", "originalContentUrl": url, "previewImageUrl": url},
        {"type": "text", "text": "The navy one"},
    ]


async def test_non_https_image_goes_as_a_link() -> None:
    [sent], _ = await _send(Media(kind="image", url="http://shop.test/a.jpg"))
    assert _body(sent)["messages"] == [{"type": "text", "text": "http://shop.test/a.jpg"}]


async def test_location() -> None:
    content = Location(latitude=52.3702, longitude=4.8952, name="Store", address="Kalverstraat 1")
    [sent], _ = await _send(content)
    assert _body(sent)["messages"] == [
        {
            "type": "location",
            "title": "Store",
            "address": "Kalverstraat 1",
            "latitude": 52.3702,
            "longitude": 4.8952,
        }
    ]
    [bare], _ = await _send(Location(latitude=1.5, longitude=2.25))
    assert _body(bare)["messages"][0]["title"] == "1.500000, 2.250000"


async def test_short_list_is_quick_replies_with_descriptions_in_the_text() -> None:
    content = ListPicker(
        text="Choose a store",
        sections=[
            ListSection(
                options=[
                    Option(title="Kalverstraat", payload="store:1", description="Open till 18:00"),
                    Option(title="Zuidas", payload="store:2"),
                ]
            )
        ],
    )
    [sent], _ = await _send(content)
    [msg] = _body(sent)["messages"]
    assert msg["text"] == "Choose a store\n• Kalverstraat — Open till 18:00"
    assert [i["action"]["data"] for i in msg["quickReply"]["items"]] == ["store:1", "store:2"]


async def test_long_list_is_numbered_text() -> None:
    sections = [
        ListSection(
            title=f"S{s}", options=[Option(title=f"O{s}{i}", payload=f"{s}{i}") for i in range(5)]
        )
        for s in range(3)
    ]
    [sent], _ = await _send(ListPicker(text="Pick", sections=sections))
    [msg] = _body(sent)["messages"]
    assert "quickReply" not in msg
    assert msg["text"].startswith("Pick\nS0\n1. O00")
    assert "15. O24" in msg["text"]


async def test_product_card_is_a_flex_bubble() -> None:
    [sent], _ = await _send(ProductCard(product=PRODUCT, text="Your blazer"))
    messages = _body(sent)["messages"]
    assert messages[0] == {"type": "text", "text": "Your blazer"}
    link = {"type": "uri", "uri": "https://shop.test/p/blazer"}
    assert messages[1] == {
        "type": "flex",
        "altText": "Your blazer\nLinen blazer — €129.50",
        "contents": {
            "type": "bubble",
            "hero": {
                "type": "image",
                "url": "https://shop.test/img/blazer.jpg",
                "size": "full",
                "aspectRatio": "20:13",
                "aspectMode": "cover",
                "action": link,
            },
            "body": {
                "type": "box",
                "layout": "vertical",
                "spacing": "sm",
                "contents": [
                    {
                        "type": "text",
                        "text": "Linen blazer",
                        "weight": "bold",
                        "size": "md",
                        "wrap": True,
                    },
                    {
                        "type": "text",
                        "text": "Navy, size 50",
                        "size": "sm",
                        "color": "#777777",
                        "wrap": True,
                    },
                    {"type": "text", "text": "€129.50", "weight": "bold", "margin": "md"},
                ],
                "action": link,
            },
            "footer": {
                "type": "box",
                "layout": "vertical",
                "spacing": "sm",
                "contents": [
                    {
                        "type": "button",
                        "style": "primary",
                        "height": "sm",
                        "action": {
                            "type": "postback",
                            "label": "Add to cart",
                            "data": "cart:add:sku-1",
                            "displayText": "Add to cart",
                        },
                    },
                ],
            },
        },
    }


async def test_carousel_is_a_flex_carousel() -> None:
    products = [PRODUCT, PRODUCT.model_copy(update={"id": "sku-2", "image_url": None})]
    [sent], _ = await _send(ProductCarousel(products=products))
    [flex] = _body(sent)["messages"]
    assert flex["contents"]["type"] == "carousel"
    bubbles = flex["contents"]["contents"]
    assert len(bubbles) == 2
    assert "hero" in bubbles[0] and "hero" not in bubbles[1]


def test_pushes_carry_at_most_five_messages() -> None:
    items = [{"type": "text", "text": str(i)} for i in range(12)]
    assert [len(group) for group in chunks(items)] == [5, 5, 2]
    assert retry_key(CONNECTION, "k", 1) != retry_key(CONNECTION, "k", 0)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


async def _fail(response: httpx.Response) -> SendError:
    with pytest.raises(SendError) as caught:
        await _send(Text(text="hi"), handler=lambda _r: response)
    return caught.value


async def test_already_accepted_retry_is_a_success() -> None:
    conflict = httpx.Response(
        409,
        headers={"x-line-accepted-request-id": "abcdef01-2345-6789-abcd-ef0123456789"},
        json={
            "message": "The retry key is already accepted",
            "sentMessages": [{"id": SENT_ID, "quoteToken": "q"}],
        },
    )
    _, result = await _send(Text(text="hi"), handler=lambda _r: conflict)
    assert result == SendResult(provider_message_id=SENT_ID)
    bare = httpx.Response(409, json={"message": "The retry key is already accepted"})
    _, result = await _send(Text(text="hi"), handler=lambda _r: bare)
    assert result == SendResult(provider_message_id=None)


async def test_other_conflicts_fail() -> None:
    error = await _fail(httpx.Response(409, json={"message": "Conflict"}))
    assert error.retryable is False


async def test_rate_limit_without_header_waits_a_second() -> None:
    error = await _fail(httpx.Response(429, json={"message": "Too Many Requests"}))
    assert (error.retryable, error.error_code, error.retry_after) == (True, "rate_limited", 1.0)


async def test_monthly_quota_is_not_retried() -> None:
    error = await _fail(
        httpx.Response(429, json={"message": "You have reached your monthly limit."})
    )
    assert (error.retryable, error.error_code) == (False, "quota_exceeded")


async def test_validation_errors_name_the_property() -> None:
    body = {
        "message": "The request body has 1 error(s)",
        "details": [{"message": "May not be empty", "property": "messages[0].text"}],
    }
    error = await _fail(httpx.Response(400, json=body))
    assert (error.retryable, error.error_code) == (False, "invalid_request")
    assert "messages[0].text: May not be empty" in error.detail


@pytest.mark.parametrize(("status", "code"), [(401, "auth"), (403, "forbidden")])
async def test_auth_errors_are_permanent(status: int, code: str) -> None:
    error = await _fail(httpx.Response(status, json={"message": "Authentication failed"}))
    assert (error.retryable, error.error_code) == (False, code)


async def test_server_errors_are_retried() -> None:
    error = await _fail(httpx.Response(500, json={"message": "Internal Server Error"}))
    assert (error.retryable, error.error_code) == (True, "provider_error")


async def test_missing_token_is_a_configuration_error() -> None:
    bare = replace(CONNECTION, secrets={"channel_secret": CHANNEL_SECRET})
    async with Recorder(ok_response).client() as http:
        with pytest.raises(SendError) as caught:
            await ADAPTER.send(http, bare, USER_ID, Text(text="hi"), idempotency_key="k")
    assert caught.value.error_code == "config"
