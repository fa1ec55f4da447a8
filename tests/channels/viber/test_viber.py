"""Viber adapter: recorded callbacks, 64-bit tokens, signatures, send_message bodies, errors."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tests.channels.conformance import Recorder, reference_payload, request, signature_vectors
from tests.channels.viber.spec import (
    AUTH_TOKEN,
    RECEIVER,
    SENT_TOKEN,
    SPECS,
    ok_response,
    sign,
)

from toonbank.channels.base import (
    DeliveryReceipt,
    InboundMessage,
    PayloadError,
    SendError,
    SendResult,
    SignatureError,
)
from toonbank.channels.content import (
    ContactCard,
    Content,
    Location,
    Media,
    Option,
    QuickReplies,
    Reply,
    Text,
)
from toonbank.channels.viber import ViberChannel, signature

ADAPTER = ViberChannel()
CONNECTION = SPECS[0].connection
SEND_URL = "https://provider.test/pa/send_message"
SENDER = {"name": "Toonbank Shop"}


def parse(body: bytes) -> list[Any]:
    inbound = sign(body)
    ADAPTER.verify(inbound, CONNECTION)
    return ADAPTER.parse(inbound, CONNECTION)


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1000, UTC).replace(microsecond=value % 1000 * 1000)


# ---------------------------------------------------------------------------------------------
# Recorded callbacks → exact events
# ---------------------------------------------------------------------------------------------


def test_text_message() -> None:
    assert parse(reference_payload("viber_message_text.json")) == [
        InboundMessage(
            provider_message_id="4987381189870374000",
            sender_id="xy5/5y6O81+/kbWHpLhBoA==",
            content=Text(text="incoming msg"),
            sender_name="ET3",
            timestamp=ms(1481142112807),
        )
    ]


def test_unicode_message_and_exact_64_bit_token() -> None:
    body = reference_payload("viber_message_unicode.json")
    [event] = parse(body)
    raw = json.loads(body)
    assert event.provider_message_id == "4912661846655238145"
    assert event.provider_message_id == str(raw["message_token"])
    assert float(raw["message_token"]) != 4912661846655238145  # a float would lose digits
    assert event.sender_id == "01234567890A="
    assert event.sender_name == "ふで都急ぼちラり面関ごル期販ずラ否裁ぞるめ数努むや正記味てょ"
    assert event.content == Text(text=raw["message"]["text"])
    assert event.content.text.startswith("批封廟根縄華勢田郎報株聞。")
    assert event.timestamp == ms(1457764197627)


def test_location_message() -> None:
    [event] = parse(reference_payload("viber_message_location.json"))
    assert event.provider_message_id == "4987381189870374000"
    assert event.content == Location(latitude=1.2, longitude=-1.3)
    assert event.sender_name == "ET3"


def test_failed_status_is_a_receipt() -> None:
    assert parse(reference_payload("viber_failed_status.json")) == [
        DeliveryReceipt(
            provider_message_id="4912661846655238145",
            status="failed",
            timestamp=ms(1457764197627),
            error_detail="failure description",
        )
    ]


@pytest.mark.parametrize(("event", "status"), [("delivered", "delivered"), ("seen", "read")])
def test_delivered_and_seen(event: str, status: str) -> None:
    body = (
        f'{{"event":"{event}","timestamp":1457764197627,"message_token":4912661846655238145,'
        '"user_id":"01234567890A="}'
    ).encode()
    assert parse(body) == [
        DeliveryReceipt(
            provider_message_id="4912661846655238145",
            status=status,  # type: ignore[arg-type]
            timestamp=ms(1457764197627),
        )
    ]


@pytest.mark.parametrize(
    "name", ["viber_conversation_started.json", "viber_webhook_check_event.json"]
)
def test_conversation_started_and_webhook_check_are_skipped(name: str) -> None:
    assert parse(reference_payload(name)) == []


def test_sdk_signature_vector() -> None:
    for vector in signature_vectors()["viber_x_viber_content_signature"]:
        body = vector["body"].encode()
        assert signature(vector["secret"], body) == vector["expected_hex"]
        ADAPTER.verify(
            request(body, {"X-Viber-Content-Signature": vector["expected_hex"]}), CONNECTION
        )
        assert parse(body) == []  # the set_webhook check callback


def test_upper_case_hex_signature_is_accepted() -> None:
    body = reference_payload("viber_message_text.json")
    ADAPTER.verify(
        request(body, {"X-Viber-Content-Signature": signature(AUTH_TOKEN, body).upper()}),
        CONNECTION,
    )


@pytest.mark.parametrize("header", [None, "", "00" * 32, signature("other", b"{}")])
def test_bad_signatures_are_rejected(header: str | None) -> None:
    headers = {} if header is None else {"X-Viber-Content-Signature": header}
    with pytest.raises(SignatureError):
        ADAPTER.verify(request(b"{}", headers), CONNECTION)


def _message(message: dict[str, Any]) -> list[Any]:
    callback = {
        "event": "message",
        "timestamp": 1457764197627,
        "message_token": 18446744073709551615,
        "sender": {"id": "01234567890A=", "name": "Ann"},
        "message": message,
    }
    return parse(json.dumps(callback, ensure_ascii=False).encode())


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {
                "type": "picture",
                "text": "Look",
                "media": "https://dl.viber.test/p.jpg",
                "file_name": "p.jpg",
            },
            Media(
                kind="image", url="https://dl.viber.test/p.jpg", caption="Look", filename="p.jpg"
            ),
        ),
        (
            {"type": "video", "media": "https://dl.viber.test/v.mp4", "size": 10},
            Media(kind="video", url="https://dl.viber.test/v.mp4"),
        ),
        (
            {"type": "file", "media": "https://dl.viber.test/f.pdf", "file_name": "f.pdf"},
            Media(kind="file", url="https://dl.viber.test/f.pdf", filename="f.pdf"),
        ),
        (
            {"type": "contact", "contact": {"name": "Bob", "phone_number": "+31612345678"}},
            ContactCard(name="Bob", phones=["+31612345678"]),
        ),
        ({"type": "url", "media": "https://shop.test/p/1"}, Text(text="https://shop.test/p/1")),
        (
            {"type": "sticker", "sticker_id": 46105, "media": "https://viber.test/s.png"},
            Media(kind="image", url="https://viber.test/s.png"),
        ),
    ],
)
def test_other_message_types(message: dict[str, Any], expected: Content) -> None:
    [event] = _message(message)
    assert event.content == expected
    assert event.provider_message_id == "18446744073709551615"


def test_keyboard_answer_becomes_a_reply() -> None:
    sent = _render(
        QuickReplies(
            text="Which size?",
            options=[Option(title="M", payload="size:m"), Option(title="L", payload="size:l")],
        )
    )
    [event] = _message({"type": "text", "text": "L", "tracking_data": sent["tracking_data"]})
    assert event.content == Reply(payload="size:l", title="L")
    [typed] = _message({"type": "text", "text": "XL", "tracking_data": sent["tracking_data"]})
    assert typed.content == Text(text="XL")


def test_foreign_tracking_data_is_ignored() -> None:
    [event] = _message({"type": "text", "text": "3055", "tracking_data": "3055"})
    assert event.content == Text(text="3055")


@pytest.mark.parametrize(
    "body",
    [
        b"nope",
        b"[]",
        b'{"timestamp": 1}',
        b'{"event":"message","message_token":1,"message":{"type":"text","text":"x"}}',
        b'{"event":"seen","message_token":1.5e18}',
    ],
)
def test_malformed_callbacks_are_rejected(body: bytes) -> None:
    with pytest.raises(PayloadError):
        ADAPTER.parse(sign(body), CONNECTION)


# ---------------------------------------------------------------------------------------------
# Outbound
# ---------------------------------------------------------------------------------------------


def _render(content: Content) -> dict[str, Any]:
    from toonbank.channels.viber.render import render

    bodies = render(content)
    assert bodies is not None and len(bodies) == 1
    return bodies[0]


async def _send(
    content: Content, handler: Any = ok_response
) -> tuple[list[dict[str, Any]], SendResult]:
    recorder = Recorder(handler)
    async with recorder.client() as http:
        result = await ADAPTER.send(http, CONNECTION, RECEIVER, content, idempotency_key="k")
    bodies = []
    for sent in recorder.requests:
        assert str(sent.url) == SEND_URL
        assert sent.headers["x-viber-auth-token"] == AUTH_TOKEN
        bodies.append(json.loads(sent.content))
    return bodies, result


def _envelope(**fields: Any) -> dict[str, Any]:
    return {"receiver": RECEIVER, "min_api_version": 1, "sender": SENDER, **fields}


async def test_text_and_exact_token_of_the_answer() -> None:
    bodies, result = await _send(Text(text="Hello! How can I help?"))
    assert bodies == [_envelope(type="text", text="Hello! How can I help?")]
    assert result == SendResult(provider_message_id=str(SENT_TOKEN))
    assert result.provider_message_id == "5741311803571721087"


async def test_quick_replies_match_the_recorded_keyboard() -> None:
    options = [Option(title="Yes", payload="happy:yes"), Option(title="No", payload="happy:no")]
    [body], _ = await _send(QuickReplies(text="Are you happy?", options=options))
    recorded = json.loads(reference_payload("viber_outbound_keyboard.json"))
    assert body["keyboard"]["Type"] == recorded["keyboard"]["Type"] == "keyboard"
    assert body["keyboard"]["DefaultHeight"] is recorded["keyboard"]["DefaultHeight"] is False
    for ours, theirs in zip(
        body["keyboard"]["Buttons"], recorded["keyboard"]["Buttons"], strict=True
    ):
        assert ours.keys() == theirs.keys()
        assert (ours["ActionType"], ours["ActionBody"], ours["Text"], ours["TextSize"]) == (
            theirs["ActionType"],
            theirs["ActionBody"],
            theirs["Text"],
            theirs["TextSize"],
        )
        assert str(ours["Columns"]) == theirs["Columns"]
    assert body == _envelope(
        type="text",
        text="Are you happy?",
        keyboard=body["keyboard"],
        tracking_data='{"tb_options":{"Yes":["happy:yes","Yes"],"No":["happy:no","No"]}}',
    )


def test_repeated_titles_fall_back_to_payloads_as_action_bodies() -> None:
    options = [Option(title="Add", payload="cart:add:1"), Option(title="add", payload="cart:add:2")]
    body = _render(QuickReplies(text="Which one?", options=options))
    assert [b["ActionBody"] for b in body["keyboard"]["Buttons"]] == ["cart:add:1", "cart:add:2"]
    assert [b["Text"] for b in body["keyboard"]["Buttons"]] == ["Add", "add"]


def test_long_titles_take_a_full_row() -> None:
    options = [Option(title="Deliver to my home address", payload="d")]
    body = _render(QuickReplies(text="?", options=options))
    assert body["keyboard"]["Buttons"][0]["Columns"] == 6


async def test_unicode_goes_out_unchanged() -> None:
    text = json.loads(reference_payload("viber_message_unicode.json"))["message"]["text"]
    [body], _ = await _send(Text(text=text))
    assert body["text"] == text


async def test_picture_with_caption() -> None:
    url = "https://shop.test/img/blazer.jpg"
    bodies, _ = await _send(Media(kind="image", url=url, caption="The navy one"))
    assert bodies == [_envelope(type="picture", media=url, text="The navy one")]


async def test_long_caption_follows_the_picture() -> None:
    caption = "x" * 600
    bodies, _ = await _send(Media(kind="image", url="https://shop.test/a.jpg", caption=caption))
    assert [b["type"] for b in bodies] == ["picture", "text"]
    assert bodies[0]["text"] == "" and bodies[1]["text"] == caption


async def test_files_go_as_links() -> None:
    media = Media(kind="file", url="https://shop.test/docs/invoice.pdf", filename="invoice.pdf")
    bodies, _ = await _send(media)
    assert bodies == [
        _envelope(type="text", text="invoice.pdf\nhttps://shop.test/docs/invoice.pdf")
    ]


async def test_location_label_then_pin() -> None:
    content = Location(latitude=52.3702, longitude=4.8952, name="Store", address="Kalverstraat 1")
    bodies, _ = await _send(content)
    assert bodies == [
        _envelope(type="text", text="Store, Kalverstraat 1"),
        _envelope(type="location", location={"lat": 52.3702, "lon": 4.8952}),
    ]


async def test_single_number_contact_is_native_richer_cards_are_text() -> None:
    bodies, _ = await _send(ContactCard(name="Service", phones=["+31201234567"]))
    assert bodies == [
        _envelope(type="contact", contact={"name": "Service", "phone_number": "+31201234567"})
    ]
    card = ContactCard(name="Service", phones=["+31201234567"], emails=["help@shop.test"])
    bodies, _ = await _send(card)
    assert bodies == [_envelope(type="text", text="Service\n+31201234567\nhelp@shop.test")]


async def test_sender_name_defaults_to_the_connection_name() -> None:
    conn = replace(CONNECTION, settings={}, name="A very long connection name for Viber")
    recorder = Recorder(ok_response)
    async with recorder.client() as http:
        await ADAPTER.send(http, conn, RECEIVER, Text(text="hi"), idempotency_key="k")
    assert json.loads(recorder.requests[0].content)["sender"] == {
        "name": "A very long connection name"
    }


# ---------------------------------------------------------------------------------------------
# Errors (Viber answers HTTP 200 with a non-zero status)
# ---------------------------------------------------------------------------------------------


async def _fail(response: httpx.Response) -> SendError:
    with pytest.raises(SendError) as caught:
        await _send(Text(text="hi"), handler=lambda _r: response)
    return caught.value


def _status(code: int, message: str) -> httpx.Response:
    return httpx.Response(200, json={"status": code, "status_message": message})


async def test_rate_control_without_hint_waits_a_minute() -> None:
    error = await _fail(_status(12, "Too many requests"))
    assert (error.retryable, error.error_code, error.retry_after) == (True, "rate_limited", 60.0)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (2, "auth"),
        (3, "invalid_request"),
        (5, "invalid_recipient"),
        (6, "opted_out"),
        (7, "account_unavailable"),
        (10, "config"),
        (11, "unsupported_client"),
        (23, "quota_exceeded"),
        (99, "viber_99"),
    ],
)
async def test_status_codes_are_permanent(code: int, expected: str) -> None:
    error = await _fail(_status(code, "notSubscribed" if code == 6 else "error"))
    assert (error.retryable, error.error_code) == (False, expected)
    assert error.http_status == 200


async def test_http_failures_are_classified() -> None:
    assert (await _fail(httpx.Response(502, text="bad gateway"))).retryable is True
    assert (await _fail(httpx.Response(401, text="unauthorized"))).retryable is False


async def test_missing_auth_token_is_a_configuration_error() -> None:
    bare = replace(CONNECTION, secrets={})
    async with Recorder(ok_response).client() as http:
        with pytest.raises(SendError) as caught:
            await ADAPTER.send(http, bare, RECEIVER, Text(text="hi"), idempotency_key="k")
    assert caught.value.error_code == "config"
