"""Telegram adapter: recorded updates, secret-token verification, Bot API calls and errors."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit
from tests.channels.conformance import Recorder, reference_payload, request
from tests.channels.telegram.spec import (
    BOT_TOKEN,
    CHAT_ID,
    SECRET_TOKEN,
    SPECS,
    ok_response,
    sign,
)

from toonbank.channels.base import (
    InboundMessage,
    PayloadError,
    SendError,
    SendResult,
    SignatureError,
)
from toonbank.channels.content import (
    ContactCard,
    Content,
    ListPicker,
    ListSection,
    Location,
    Media,
    Option,
    QuickReplies,
    Reply,
    Text,
)
from toonbank.channels.telegram import TelegramChannel, callback_data

ADAPTER = TelegramChannel()
CONNECTION = SPECS[0].connection
API = f"https://provider.test/bot{BOT_TOKEN}"


def parse_file(name: str) -> list[Any]:
    body = reference_payload(name)
    inbound = sign(body)
    ADAPTER.verify(inbound, CONNECTION)
    return ADAPTER.parse(inbound, CONNECTION)


def parse_json(update: dict[str, Any]) -> list[Any]:
    return ADAPTER.parse(sign(json.dumps(update).encode()), CONNECTION)


def only(events: list[Any]) -> InboundMessage:
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, InboundMessage)
    return event


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# ---------------------------------------------------------------------------------------------
# Recorded updates → exact events
# ---------------------------------------------------------------------------------------------


def test_text_message() -> None:
    event = only(parse_file("telegram_update_message_text.json"))
    assert event == InboundMessage(
        provider_message_id="1111111:1365",
        sender_id="1111111",
        content=Text(text="/start"),
        sender_name="Test Firstname Test Lastname",
        timestamp=utc(1441645532),
        extra={"username": "Testusername"},
    )


def test_reply_refers_to_the_original_in_the_same_chat() -> None:
    event = only(parse_file("telegram_update_message_reply.json"))
    assert event.provider_message_id == "1111111:1365"
    assert event.content == Text(text="/start")
    assert event.reply_to == "1111111:1334"


def test_document_message() -> None:
    event = only(parse_file("telegram_update_message_document.json"))
    assert event.provider_message_id == "1111111:1365"
    assert event.content == Media(
        kind="file",
        url="provider-media://AwADBAADbXXXXXXXXXXXGBdhD2l6_XX",
        filename="Testfile.pdf",
        mime_type="application/pdf",
    )


def test_photo_message_uses_the_largest_size() -> None:
    event = only(parse_file("telegram_update_message_photo.json"))
    assert event == InboundMessage(
        provider_message_id="3527065:85",
        sender_id="3527065",
        content=Media(
            kind="image",
            url="provider-media://AgADAQADtKcxG4LRUUQSQVUjfJIiiF8G6C8ABA9NJzFdXskaincBAAEC",
            caption="Photo Caption",
        ),
        sender_name="Nic Pottier",
        timestamp=utc(1493843318),
        extra={"username": "Nicpottier"},
    )


def test_location_message() -> None:
    event = only(parse_file("telegram_update_message_location.json"))
    assert event.provider_message_id == "3527065:94"
    assert event.content == Location(latitude=-2.890287, longitude=-79.004333)
    assert event.timestamp == utc(1493845244)


def test_contact_message() -> None:
    event = only(parse_file("telegram_update_message_contact.json"))
    assert event.provider_message_id == "3527065:96"
    assert event.content == ContactCard(name="Adolf Taxi", phones=["0788531373"])
    assert event.phone is None  # someone else's contact, not the sender's own number


def test_edited_message_is_not_deduplicated_against_the_original() -> None:
    event = only(parse_file("telegram_update_edited_message.json"))
    assert event == InboundMessage(
        provider_message_id="1111111:1365:edited:1441646600",
        sender_id="1111111",
        content=Text(text="Edited text"),
        sender_name="Test Firstname Test Lastname",
        timestamp=utc(1441646600),
        extra={"edited": True, "username": "Testusername"},
    )
    original = only(parse_file("telegram_update_message_text.json"))
    assert original.provider_message_id != event.provider_message_id


def test_callback_query_becomes_a_reply() -> None:
    event = only(parse_file("telegram_update_callback_query.json"))
    assert event == InboundMessage(
        provider_message_id="cbq:4382bfdwdsb323b2d9",
        sender_id="1111111",
        content=Reply(payload="Data from button callback", title=None),
        sender_name="Test Firstname Test Lastname",
        extra={"callback_query_id": "4382bfdwdsb323b2d9"},
    )


def _complete_for_ptb(update: dict[str, Any]) -> dict[str, Any]:
    """Add fields live updates always carry but the old hand-written samples omit."""
    data = copy.deepcopy(update)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file_id" in node:
                node.setdefault("file_unique_id", node["file_id"])
            for key, value in node.items():
                if key == "from" and isinstance(value, dict):
                    value.setdefault("is_bot", False)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    if "callback_query" in data:
        data["callback_query"].setdefault("chat_instance", "-1")
    return data


@pytest.mark.parametrize(
    "name",
    [
        "message_text",
        "message_reply",
        "message_document",
        "message_photo",
        "message_location",
        "message_contact",
        "edited_message",
    ],
)
def test_parsing_agrees_with_python_telegram_bot(name: str) -> None:
    raw = json.loads(reference_payload(f"telegram_update_{name}.json"))
    update = Update.de_json(_complete_for_ptb(raw), bot=None)
    assert update is not None
    message = update.effective_message
    assert message is not None and update.effective_chat is not None
    event = only(parse_file(f"telegram_update_{name}.json"))
    chat_id = update.effective_chat.id
    assert event.sender_id == str(chat_id)
    assert event.provider_message_id.startswith(f"{chat_id}:{message.message_id}")
    assert event.timestamp == (message.edit_date or message.date)
    content = event.content
    if message.text:
        assert content == Text(text=message.text)
    if message.photo:
        assert isinstance(content, Media)
        assert content.url == f"provider-media://{message.photo[-1].file_id}"
        assert content.caption == message.caption
    if message.document:
        assert isinstance(content, Media)
        assert content.url == f"provider-media://{message.document.file_id}"
        assert content.filename == message.document.file_name
    if message.location:
        assert content == Location(
            latitude=message.location.latitude, longitude=message.location.longitude
        )
    if message.contact:
        assert isinstance(content, ContactCard)
        assert content.phones == [message.contact.phone_number]
    if message.reply_to_message:
        assert event.reply_to == f"{chat_id}:{message.reply_to_message.message_id}"


def test_callback_parsing_agrees_with_python_telegram_bot() -> None:
    raw = json.loads(reference_payload("telegram_update_callback_query.json"))
    update = Update.de_json(_complete_for_ptb(raw), bot=None)
    assert update is not None and update.callback_query is not None
    event = only(parse_file("telegram_update_callback_query.json"))
    assert event.provider_message_id == f"cbq:{update.callback_query.id}"
    assert event.content == Reply(payload=update.callback_query.data or "")
    assert event.sender_id == str(update.callback_query.from_user.id)


def _live_callback(data: str, markup: dict[str, Any]) -> dict[str, Any]:
    """A callback query as live Bot API updates carry it (with the message and chat)."""
    return {
        "update_id": 500,
        "callback_query": {
            "id": "99887766",
            "chat_instance": "-55",
            "from": {"id": 42, "is_bot": False, "first_name": "Ann"},
            "data": data,
            "message": {
                "message_id": 4242,
                "date": 1700000000,
                "chat": {"id": 42, "type": "private", "first_name": "Ann"},
                "text": "Which size?",
                "reply_markup": markup,
            },
        },
    }


def test_live_callback_recovers_title_and_the_message_answered() -> None:
    markup = {"inline_keyboard": [[{"text": "M", "callback_data": "size:m"}]]}
    event = only(parse_json(_live_callback("size:m", markup)))
    assert event.content == Reply(payload="size:m", title="M")
    assert event.reply_to == "42:4242"
    assert event.sender_id == "42"
    assert event.sender_name == "Ann"


def test_long_payloads_come_back_as_their_hash() -> None:
    payload = "cart:add:" + "x" * 100
    options = [Option(title="Add", payload=payload)]
    _, body = _render(QuickReplies(text="?", options=options))
    sent = body["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert sent == "h:" + hashlib.sha256(payload.encode()).hexdigest()[:32]
    event = only(parse_json(_live_callback(sent, body["reply_markup"])))
    assert event.content == Reply(payload=callback_data(payload), title="Add")


def test_callback_data_fits_telegrams_limit() -> None:
    assert callback_data("size:m") == "size:m"
    exactly = "é" * 32  # 64 bytes
    assert callback_data(exactly) == exactly
    hashed = callback_data("é" * 33)
    assert hashed.startswith("h:") and len(hashed.encode()) <= 64
    assert len(hashed.encode()) <= InlineKeyboardButtonLimit.MAX_CALLBACK_DATA


def test_own_contact_gives_the_sender_phone_in_e164() -> None:
    update = {
        "update_id": 7,
        "message": {
            "message_id": 3,
            "date": 1700000000,
            "chat": {"id": 42, "type": "private", "first_name": "Ann"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ann"},
            "contact": {"phone_number": "31612345678", "first_name": "Ann", "user_id": 42},
        },
    }
    event = only(parse_json(update))
    assert event.phone == "+31612345678"
    assert event.content == ContactCard(name="Ann", phones=["31612345678"])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "venue": {
                    "location": {"latitude": 52.37, "longitude": 4.89},
                    "title": "Shop",
                    "address": "Kalverstraat 1",
                },
                "location": {"latitude": 52.37, "longitude": 4.89},
            },
            Location(latitude=52.37, longitude=4.89, name="Shop", address="Kalverstraat 1"),
        ),
        (
            {
                "voice": {
                    "file_id": "VOICE1",
                    "file_unique_id": "u",
                    "duration": 3,
                    "mime_type": "audio/ogg",
                }
            },
            Media(kind="audio", url="provider-media://VOICE1", mime_type="audio/ogg"),
        ),
        (
            {
                "animation": {
                    "file_id": "ANIM",
                    "file_unique_id": "u",
                    "width": 1,
                    "height": 1,
                    "duration": 1,
                    "mime_type": "video/mp4",
                },
                "document": {"file_id": "ANIM", "file_unique_id": "u", "mime_type": "video/mp4"},
            },
            Media(kind="video", url="provider-media://ANIM", mime_type="video/mp4"),
        ),
        ({"sticker": {"file_id": "S", "emoji": "👍"}}, Text(text="👍")),
    ],
)
def test_other_message_kinds(fields: dict[str, Any], expected: Content) -> None:
    message = {"message_id": 1, "date": 1700000000, "chat": {"id": 5, "type": "private"}}
    event = only(parse_json({"update_id": 1, "message": {**message, **fields}}))
    assert event.content == expected


def test_unhandled_updates_and_service_messages_are_skipped() -> None:
    assert parse_json({"update_id": 1, "inline_query": {"id": "1", "query": "x"}}) == []
    service = {
        "message_id": 1,
        "date": 1,
        "chat": {"id": -5, "type": "group"},
        "new_chat_members": [{"id": 1, "is_bot": False, "first_name": "A"}],
    }
    assert parse_json({"update_id": 2, "message": service}) == []


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"message": {}}', b'{"update_id": 1, "message": {"chat": 1}}']
)
def test_bodies_that_are_not_updates_are_rejected(body: bytes) -> None:
    with pytest.raises(PayloadError):
        ADAPTER.parse(sign(body), CONNECTION)


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------


def test_secret_token_header_verifies() -> None:
    ADAPTER.verify(sign(b"{}"), CONNECTION)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Telegram-Bot-Api-Secret-Token": ""},
        {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        {"X-Telegram-Bot-Api-Secret-Token": SECRET_TOKEN + "x"},
    ],
)
def test_missing_or_wrong_secret_token_is_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        ADAPTER.verify(request(b"{}", headers), CONNECTION)


def test_connection_without_secret_token_rejects_everything() -> None:
    bare = replace(CONNECTION, secrets={"bot_token": BOT_TOKEN})
    with pytest.raises(SignatureError, match="no secret_token"):
        ADAPTER.verify(sign(b"{}"), bare)


# ---------------------------------------------------------------------------------------------
# Acknowledgement and callback answers
# ---------------------------------------------------------------------------------------------


def test_button_press_is_answered_in_the_webhook_response() -> None:
    events = parse_file("telegram_update_callback_query.json")
    answer = ADAPTER.acknowledge(events)
    assert answer.status == 200
    assert answer.media_type == "application/json"
    assert json.loads(answer.body) == {
        "method": "answerCallbackQuery",
        "callback_query_id": "4382bfdwdsb323b2d9",
    }


def test_ordinary_messages_get_a_plain_ok() -> None:
    answer = ADAPTER.acknowledge(parse_file("telegram_update_message_text.json"))
    assert (answer.status, answer.body) == (200, b"ok")


async def test_answer_callback_calls_the_bot_api() -> None:
    recorder = Recorder(lambda _r: httpx.Response(200, json={"ok": True, "result": True}))
    async with recorder.client() as http:
        await ADAPTER.answer_callback(http, CONNECTION, "4382bfdwdsb323b2d9")
    sent = recorder.requests[0]
    assert str(sent.url) == f"{API}/answerCallbackQuery"
    assert json.loads(sent.content) == {"callback_query_id": "4382bfdwdsb323b2d9"}


# ---------------------------------------------------------------------------------------------
# Outbound requests
# ---------------------------------------------------------------------------------------------


def _render(content: Content) -> tuple[str, dict[str, Any]]:
    from toonbank.channels.telegram.render import render

    call = render(CHAT_ID, content)
    assert call is not None
    return call


async def _send(content: Content) -> tuple[httpx.Request, SendResult]:
    recorder = Recorder(ok_response)
    async with recorder.client() as http:
        result = await ADAPTER.send(http, CONNECTION, CHAT_ID, content, idempotency_key="k")
    assert len(recorder.requests) == 1
    return recorder.requests[0], result


def _call(sent: httpx.Request) -> tuple[str, dict[str, Any]]:
    url = str(sent.url)
    assert url.startswith(API + "/")
    assert sent.method == "POST"
    return url.removeprefix(API + "/"), json.loads(sent.content)


async def test_text_is_sent_with_send_message() -> None:
    sent, result = await _send(Text(text="Hello! How can I help?"))
    assert _call(sent) == ("sendMessage", {"chat_id": 1111111, "text": "Hello! How can I help?"})
    assert result == SendResult(provider_message_id="1111111:4242")


async def test_quick_replies_become_an_inline_keyboard() -> None:
    options = [Option(title=c, payload=f"colour:{c}") for c in ("Red", "Blue", "Green", "Black")]
    sent, _ = await _send(QuickReplies(text="Pick a colour", options=options))
    method, body = _call(sent)
    assert method == "sendMessage"
    assert body == {
        "chat_id": 1111111,
        "text": "Pick a colour",
        "reply_markup": {
            "inline_keyboard": [
                [
                    {"text": "Red", "callback_data": "colour:Red"},
                    {"text": "Blue", "callback_data": "colour:Blue"},
                    {"text": "Green", "callback_data": "colour:Green"},
                ],
                [{"text": "Black", "callback_data": "colour:Black"}],
            ]
        },
    }
    markup = InlineKeyboardMarkup.de_json(body["reply_markup"], bot=None)
    assert markup is not None
    assert [b.callback_data for row in markup.inline_keyboard for b in row] == [
        o.payload for o in options
    ]


async def test_long_titles_get_a_row_each() -> None:
    options = [Option(title="A rather long option title", payload=str(i)) for i in range(2)]
    _, body = _call((await _send(QuickReplies(text="?", options=options)))[0])
    assert [len(row) for row in body["reply_markup"]["inline_keyboard"]] == [1, 1]


async def test_list_picker_is_one_button_per_row_with_descriptions_in_the_text() -> None:
    content = ListPicker(
        text="Choose a store",
        button="Stores",
        sections=[
            ListSection(
                title="Amsterdam",
                options=[
                    Option(title="Kalverstraat", payload="store:1", description="Open till 18:00"),
                    Option(title="Zuidas", payload="store:2"),
                ],
            )
        ],
    )
    _, body = _call((await _send(content))[0])
    assert body == {
        "chat_id": 1111111,
        "text": "Choose a store\n\nAmsterdam\n• Kalverstraat — Open till 18:00",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "Kalverstraat", "callback_data": "store:1"}],
                [{"text": "Zuidas", "callback_data": "store:2"}],
            ]
        },
    }


@pytest.mark.parametrize(
    ("media", "method", "expected"),
    [
        (
            Media(kind="image", url="https://shop.test/img/blazer.jpg", caption="The navy one"),
            "sendPhoto",
            {"photo": "https://shop.test/img/blazer.jpg", "caption": "The navy one"},
        ),
        (
            Media(kind="video", url="https://shop.test/v.mp4"),
            "sendVideo",
            {"video": "https://shop.test/v.mp4"},
        ),
        (
            Media(kind="audio", url="https://shop.test/a.mp3", caption="Jingle"),
            "sendAudio",
            {"audio": "https://shop.test/a.mp3", "caption": "Jingle"},
        ),
        (
            Media(kind="file", url="https://shop.test/docs/invoice.pdf", filename="invoice.pdf"),
            "sendDocument",
            {"document": "https://shop.test/docs/invoice.pdf"},
        ),
    ],
)
async def test_media_is_sent_by_url(media: Media, method: str, expected: dict[str, Any]) -> None:
    sent, _ = await _send(media)
    assert _call(sent) == (method, {"chat_id": 1111111, **expected})


async def test_files_telegram_cannot_fetch_by_url_go_as_a_link() -> None:
    media = Media(kind="file", url="https://shop.test/docs/terms.docx", filename="terms.docx")
    sent, _ = await _send(media)
    assert _call(sent) == (
        "sendMessage",
        {"chat_id": 1111111, "text": "terms.docx\nhttps://shop.test/docs/terms.docx"},
    )


async def test_location_with_name_and_address_is_a_venue() -> None:
    content = Location(
        latitude=52.3702, longitude=4.8952, name="Store Amsterdam", address="Kalverstraat 1"
    )
    sent, _ = await _send(content)
    assert _call(sent) == (
        "sendVenue",
        {
            "chat_id": 1111111,
            "latitude": 52.3702,
            "longitude": 4.8952,
            "title": "Store Amsterdam",
            "address": "Kalverstraat 1",
        },
    )


async def test_bare_location_is_a_pin() -> None:
    sent, _ = await _send(Location(latitude=-2.890287, longitude=-79.004333))
    assert _call(sent) == (
        "sendLocation",
        {"chat_id": 1111111, "latitude": -2.890287, "longitude": -79.004333},
    )


async def test_contact_card_carries_every_number_in_a_vcard() -> None:
    content = ContactCard(
        name="Toonbank Service", phones=["+31201234567"], emails=["help@shop.test"]
    )
    sent, _ = await _send(content)
    assert _call(sent) == (
        "sendContact",
        {
            "chat_id": 1111111,
            "phone_number": "+31201234567",
            "first_name": "Toonbank Service",
            "vcard": "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Toonbank Service\r\n"
            "TEL;TYPE=CELL:+31201234567\r\nEMAIL:help@shop.test\r\nEND:VCARD",
        },
    )


async def test_contact_without_phone_goes_as_text() -> None:
    sent, _ = await _send(ContactCard(name="Support", emails=["help@shop.test"]))
    assert _call(sent) == ("sendMessage", {"chat_id": 1111111, "text": "Support\nhelp@shop.test"})


def test_manifest_limits_match_python_telegram_bot() -> None:
    caps = ADAPTER.manifest.capabilities
    assert caps.max_text_length == MessageLimit.MAX_TEXT_LENGTH
    assert ADAPTER.manifest.default_rate_per_second == 30
    assert set(ADAPTER.manifest.secret_settings) == {"bot_token", "secret_token"}


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


async def _fail(response: httpx.Response) -> SendError:
    recorder = Recorder(lambda _r: response)
    async with recorder.client() as http:
        with pytest.raises(SendError) as caught:
            await ADAPTER.send(http, CONNECTION, CHAT_ID, Text(text="hi"), idempotency_key="k")
    return caught.value


def _tg(status: int, description: str, **parameters: Any) -> httpx.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(status, json=body)


async def test_flood_control_waits_as_long_as_the_body_says() -> None:
    error = await _fail(_tg(429, "Too Many Requests: retry after 30", retry_after=30))
    assert (error.retryable, error.error_code, error.retry_after) == (True, "rate_limited", 30)
    assert error.http_status == 429


async def test_flood_control_falls_back_to_the_header_then_one_second() -> None:
    with_header = httpx.Response(429, headers={"retry-after": "5"}, json={"ok": False})
    assert (await _fail(with_header)).retry_after == 5
    assert (await _fail(_tg(429, "Too Many Requests"))).retry_after == 1.0


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (_tg(403, "Forbidden: bot was blocked by the user"), "opted_out"),
        (_tg(403, "Forbidden: user is deactivated"), "invalid_recipient"),
        (_tg(403, "Forbidden: bot can't initiate conversation with a user"), "invalid_recipient"),
        (_tg(400, "Bad Request: chat not found"), "invalid_recipient"),
        (_tg(400, "Bad Request: message text is empty"), "invalid_request"),
        (
            _tg(400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-100123),
            "chat_migrated",
        ),
        (_tg(401, "Unauthorized"), "auth"),
        (_tg(404, "Not Found"), "auth"),
    ],
)
async def test_permanent_errors(response: httpx.Response, code: str) -> None:
    error = await _fail(response)
    assert error.retryable is False
    assert error.error_code == code


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retried(status: int) -> None:
    error = await _fail(_tg(status, "Internal Server Error"))
    assert error.retryable is True
    assert error.error_code == "provider_error"


async def test_missing_bot_token_is_a_configuration_error() -> None:
    bare = replace(CONNECTION, secrets={"secret_token": SECRET_TOKEN})
    async with Recorder(ok_response).client() as http:
        with pytest.raises(SendError) as caught:
            await ADAPTER.send(http, bare, CHAT_ID, Text(text="hi"), idempotency_key="k")
    assert (caught.value.retryable, caught.value.error_code) == (False, "config")
