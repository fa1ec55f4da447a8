"""Twilio Programmable Messaging adapter: signatures, recorded webhooks, sends and errors."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from tests.channels.conformance import (
    Recorder,
    reference_payload,
    request,
    signature_vectors,
)
from tests.channels.twilio.spec import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CONNECTION,
    MESSAGE_SID,
    PAYLOADS,
    WEBHOOK_URL,
    message_created,
    signed,
    twilio_signature,
)
from twilio.request_validator import RequestValidator

from toonbank.channels.base import (
    DeliveryReceipt,
    InboundMessage,
    ParsedEvent,
    PayloadError,
    SendError,
    SignatureError,
)
from toonbank.channels.content import Location, Media, Option, QuickReplies, Reply, Text
from toonbank.channels.render import degrade
from toonbank.channels.twilio import TwilioChannel

ADAPTER = TwilioChannel()
SID = "SMe287d7109a5a925f182f0e07fe5b223b"
VECTORS = signature_vectors()["twilio_x_twilio_signature"]


def parse_recorded(name: str) -> list[ParsedEvent]:
    req = signed(reference_payload(f"twilio_{name}.form"))
    ADAPTER.verify(req, CONNECTION)
    return ADAPTER.parse(req, CONNECTION)


def parse_form(fields: dict[str, str] | list[tuple[str, str]]) -> list[ParsedEvent]:
    req = signed(urlencode(fields).encode())
    ADAPTER.verify(req, CONNECTION)
    return ADAPTER.parse(req, CONNECTION)


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------


def form_request(url: str, params: Any, signature: str) -> Any:
    return request(urlencode(params).encode(), {"X-Twilio-Signature": signature}, url=url)


def vector_connection(token: str) -> Any:
    return replace(CONNECTION, secrets={"auth_token": token})


@pytest.mark.parametrize("vector", [VECTORS[0], VECTORS[5]], ids=["twilio-python", "docs-gist"])
def test_known_answer_vectors(vector: dict[str, Any]) -> None:
    validator = RequestValidator(vector["auth_token"])
    assert validator.compute_signature(vector["url"], vector["params"]) == vector["expected"]
    req = form_request(vector["url"], vector["params"], vector["expected"])
    ADAPTER.verify(req, vector_connection(vector["auth_token"]))


def test_https_port_variant_is_accepted_without_the_port() -> None:
    base = VECTORS[0]
    # Twilio signed the URL with ":443"; our public URL has no port: still authentic.
    req = form_request(base["url"], base["params"], VECTORS[1]["expected"])
    ADAPTER.verify(req, vector_connection(base["auth_token"]))


@pytest.mark.parametrize(
    ("url_key", "sig_key"),
    [("url_http_port_1234", "expected_port1234"), ("url_http_port_80", "expected_port80")],
)
def test_http_port_variants(url_key: str, sig_key: str) -> None:
    base, vector = VECTORS[0], VECTORS[2]
    assert (
        RequestValidator("12345").compute_signature(vector[url_key], base["params"])
        == (vector[sig_key])
    )
    req = form_request(vector[url_key], base["params"], vector[sig_key])
    ADAPTER.verify(req, vector_connection("12345"))


def test_repeated_parameters_are_sorted_and_deduplicated() -> None:
    vector = VECTORS[4]
    pairs = [(name, value) for name, value in vector["params_multidict"]]
    req = form_request(VECTORS[0]["url"], pairs, vector["expected"])
    ADAPTER.verify(req, vector_connection("12345"))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_spec_signer_matches_the_official_sdk(payload: bytes) -> None:
    params = parse_qs(payload.decode(), keep_blank_values=True)
    sdk = RequestValidator(AUTH_TOKEN).compute_signature(
        WEBHOOK_URL, {k: v[0] for k, v in params.items()}
    )
    assert twilio_signature(AUTH_TOKEN, WEBHOOK_URL, payload) == sdk


def test_blank_parameters_are_part_of_the_signature() -> None:
    body = reference_payload("twilio_sms_inbound.form")
    assert b"ToCity=&" in body
    good = signed(body)
    dropped = replace(good, body=body.replace(b"ToCity=&", b""))
    with pytest.raises(SignatureError, match="does not match"):
        ADAPTER.verify(dropped, CONNECTION)


def test_missing_signature_header() -> None:
    req = request(reference_payload("twilio_sms_inbound.form"), url=WEBHOOK_URL)
    with pytest.raises(SignatureError, match="missing X-Twilio-Signature"):
        ADAPTER.verify(req, CONNECTION)


def test_signature_over_the_proxy_url_is_rejected() -> None:
    body = reference_payload("twilio_sms_inbound.form")
    good = signed(body)
    internal = replace(good, url="http://10.0.0.5:8000/webhooks/conn-test?channel=sms")
    with pytest.raises(SignatureError, match="public webhook URL"):
        ADAPTER.verify(internal, CONNECTION)


def test_wrong_auth_token_is_rejected() -> None:
    req = signed(reference_payload("twilio_sms_inbound.form"), token="another-token")
    with pytest.raises(SignatureError):
        ADAPTER.verify(req, CONNECTION)


def test_shared_key_signatures_are_rejected_clearly() -> None:
    good = signed(reference_payload("twilio_sms_inbound.form"))
    headers = {**good.headers, "x-twilio-webhooks-signature-settings": "key=KS1,algorithm=X"}
    with pytest.raises(SignatureError, match="SharedKey"):
        ADAPTER.verify(replace(good, headers=headers), CONNECTION)


def test_non_utf8_body_is_rejected() -> None:
    req = request(b"Body=\xff", {"X-Twilio-Signature": "x"}, url=WEBHOOK_URL)
    with pytest.raises(SignatureError, match="UTF-8"):
        ADAPTER.verify(req, CONNECTION)


def test_get_webhooks_are_signed_over_the_url_only() -> None:
    query = {"MessageSid": SID, "From": "+14133881111", "Body": "Hi"}
    url = "https://toonbank.test/webhooks/conn-test?" + urlencode(query)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    req = request(b"", {"X-Twilio-Signature": signature}, url=url, method="GET", query=query)
    ADAPTER.verify(req, CONNECTION)
    [event] = ADAPTER.parse(req, CONNECTION)
    assert isinstance(event, InboundMessage)
    assert event.content == Text(text="Hi")


# --------------------------------------------------------------------------------------------
# Recorded payloads
# --------------------------------------------------------------------------------------------


def test_sms_inbound() -> None:
    assert parse_recorded("sms_inbound") == [
        InboundMessage(
            provider_message_id=SID,
            sender_id="+14133881111",
            content=Text(text="Msg"),
            phone="+14133881111",
        )
    ]


def test_mms_with_two_media_items() -> None:
    assert parse_recorded("mms_inbound_media") == [
        InboundMessage(
            provider_message_id=SID,
            sender_id="+14133881111",
            content=Media(kind="image", url="cat.jpg", caption="Msg"),
            phone="+14133881111",
        ),
        InboundMessage(
            provider_message_id=f"{SID}:media1",
            sender_id="+14133881111",
            content=Media(kind="image", url="dog.jpg"),
            phone="+14133881111",
        ),
    ]


def test_whatsapp_inbound_keeps_the_prefix_for_replies() -> None:
    assert parse_recorded("whatsapp_inbound") == [
        InboundMessage(
            provider_message_id=SID,
            sender_id="whatsapp:+14133881111",
            content=Text(text="Msg"),
            phone="+14133881111",
        )
    ]


def test_whatsapp_quick_reply_button() -> None:
    [event] = parse_recorded("whatsapp_inbound_button")
    assert isinstance(event, InboundMessage)
    assert event.provider_message_id == SID
    assert event.sender_id == "whatsapp:+14133881111"
    assert event.content == Reply(payload="Confirm", title="Confirm")


def test_status_delivered() -> None:
    assert parse_recorded("status_delivered") == [
        DeliveryReceipt(provider_message_id=SID, status="delivered")
    ]


def test_status_failed_opted_out() -> None:
    assert parse_recorded("status_failed_21610_stop") == [
        DeliveryReceipt(
            provider_message_id=SID, status="failed", error_code="opted_out", error_detail="21610"
        )
    ]


def test_status_failed_rate_limited() -> None:
    assert parse_recorded("status_failed_63018_ratelimit") == [
        DeliveryReceipt(
            provider_message_id=SID,
            status="failed",
            error_code="rate_limited",
            error_detail="63018",
        )
    ]


def test_status_sent_via_messaging_service() -> None:
    assert parse_recorded("status_sent_messaging_service") == [
        DeliveryReceipt(provider_message_id="SM0b6e2697aae04182a9f5b5c7a8994c7f", status="sent")
    ]


# --------------------------------------------------------------------------------------------
# More inbound shapes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [("undelivered", "failed"), ("read", "read"), ("sent", "sent"), ("canceled", "failed")],
)
def test_status_mapping(status: str, expected: str) -> None:
    [receipt] = parse_form({"MessageSid": SID, "MessageStatus": status})
    assert isinstance(receipt, DeliveryReceipt)
    assert receipt.status == expected


@pytest.mark.parametrize("status", ["queued", "accepted", "sending", "scheduled"])
def test_interim_statuses_are_skipped(status: str) -> None:
    assert parse_form({"MessageSid": SID, "MessageStatus": status}) == []


def test_unmapped_error_codes_keep_the_number() -> None:
    [receipt] = parse_form(
        {"MessageSid": SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    assert receipt == DeliveryReceipt(
        provider_message_id=SID, status="failed", error_code="30003", error_detail="30003"
    )


def test_whatsapp_window_error_in_a_receipt() -> None:
    [receipt] = parse_form({"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "63016"})
    assert isinstance(receipt, DeliveryReceipt)
    assert (receipt.error_code, receipt.error_detail) == ("window_closed", "63016")


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Unsubscribe ", "STOPALL", "cancel", "END", "quit"]
)
def test_sms_opt_out_keywords(word: str) -> None:
    [event] = parse_form({"MessageSid": SID, "From": "+14133881111", "Body": word})
    assert isinstance(event, InboundMessage)
    assert event.content == Text(text=word)
    assert event.extra == {"opt_out": True}


@pytest.mark.parametrize(
    ("word", "flag"),
    [("START", "opt_in"), ("yes", "opt_in"), ("UNSTOP", "opt_in"), ("HELP", "help")],
)
def test_sms_opt_in_and_help_keywords(word: str, flag: str) -> None:
    [event] = parse_form({"MessageSid": SID, "From": "+14133881111", "Body": word})
    assert isinstance(event, InboundMessage)
    assert event.extra == {flag: True}


@pytest.mark.parametrize(
    ("sender", "body"),
    [("+14133881111", "stop sending me this"), ("whatsapp:+14133881111", "cancel")],
)
def test_keywords_only_count_alone_and_on_sms(sender: str, body: str) -> None:
    [event] = parse_form({"MessageSid": SID, "From": sender, "Body": body})
    assert isinstance(event, InboundMessage)
    assert event.extra == {}


def test_whatsapp_media_location_profile_and_reply_context() -> None:
    events = parse_form(
        {
            "MessageSid": "MM1",
            "From": "whatsapp:+31612345678",
            "ProfileName": "Ann",
            "WaId": "31612345678",
            "OriginalRepliedMessageSid": "SM0",
            "NumMedia": "2",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0",
            "MediaContentType0": "application/pdf",
            "MediaUrl1": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "MediaContentType1": "audio/ogg",
            "Body": "x" * 1500,
        }
    )
    assert [e.provider_message_id for e in events] == ["MM1", "MM1:media0", "MM1:media1"]
    first, doc, audio = (e for e in events if isinstance(e, InboundMessage))
    assert first.content == Text(text="x" * 1500)
    assert doc.content == Media(kind="file", url=doc.content.url, mime_type="application/pdf")
    assert isinstance(audio.content, Media) and audio.content.kind == "audio"
    for event in (first, doc, audio):
        assert (event.sender_name, event.phone, event.reply_to) == ("Ann", "+31612345678", "SM0")


def test_whatsapp_location() -> None:
    [event] = parse_form(
        {
            "MessageSid": "SM2",
            "From": "whatsapp:+31612345678",
            "MessageType": "location",
            "Latitude": "52.3702",
            "Longitude": "4.8952",
            "Label": "Store Amsterdam",
            "Address": "Kalverstraat 1",
            "Body": "",
        }
    )
    assert isinstance(event, InboundMessage)
    assert event.content == Location(
        latitude=52.3702, longitude=4.8952, name="Store Amsterdam", address="Kalverstraat 1"
    )


def test_whatsapp_user_id_without_a_phone_number() -> None:
    [event] = parse_form(
        {"MessageSid": "SM3", "From": "whatsapp:US.13491208655302741", "Body": "hi"}
    )
    assert isinstance(event, InboundMessage)
    assert event.sender_id == "whatsapp:US.13491208655302741"
    assert event.phone is None


def test_bodies_that_are_not_twilio_webhooks() -> None:
    with pytest.raises(PayloadError, match="MessageSid"):
        ADAPTER.parse(request(b'{"hello": "world"}', url=WEBHOOK_URL), CONNECTION)
    with pytest.raises(PayloadError, match="From"):
        parse_form({"MessageSid": SID, "Body": "hi"})


def test_acknowledge_is_empty_twiml() -> None:
    answer = ADAPTER.acknowledge([])
    assert answer.status == 200
    assert answer.media_type == "text/xml"
    assert answer.body.endswith(b"<Response></Response>")


# --------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------


async def send(content: Any, recipient: str = "+14133881111", conn: Any = CONNECTION) -> Any:
    recorder = Recorder(message_created)
    async with recorder.client() as http:
        result = await ADAPTER.send(http, conn, recipient, content, idempotency_key="k")
    [sent] = recorder.requests
    return result, sent, {k: v for k, v in parse_qs(sent.content.decode()).items()}


async def test_send_text() -> None:
    result, sent, form = await send(Text(text="Hello & welcome"))
    assert result.provider_message_id == MESSAGE_SID
    assert sent.method == "POST"
    assert str(sent.url) == f"https://twilio.test/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {credentials}"
    assert form == {"To": ["+14133881111"], "From": ["+12028831111"], "Body": ["Hello & welcome"]}


async def test_send_image_with_caption() -> None:
    _, _, form = await send(Media(kind="image", url="https://shop.test/a.jpg", caption="Navy"))
    assert form["MediaUrl"] == ["https://shop.test/a.jpg"]
    assert form["Body"] == ["Navy"]


async def test_whatsapp_recipient_gets_a_whatsapp_sender() -> None:
    _, _, form = await send(Text(text="Hi"), recipient="whatsapp:+31612345678")
    assert form["To"] == ["whatsapp:+31612345678"]
    assert form["From"] == ["whatsapp:+12028831111"]


async def test_messaging_service_and_status_callback() -> None:
    conn = replace(
        CONNECTION,
        settings={
            "account_sid": ACCOUNT_SID,
            "messaging_service_sid": "MGdb23ec0f89ee2632e46e91d8128f5e2b",
            "status_callback_url": "https://toonbank.test/webhooks/conn-test",
        },
    )
    _, _, form = await send(Text(text="Hi"), conn=conn)
    assert form == {
        "To": ["+14133881111"],
        "MessagingServiceSid": ["MGdb23ec0f89ee2632e46e91d8128f5e2b"],
        "Body": ["Hi"],
        "StatusCallback": ["https://toonbank.test/webhooks/conn-test"],
    }


async def test_missing_sender_is_a_config_error() -> None:
    conn = replace(CONNECTION, settings={"account_sid": ACCOUNT_SID})
    with pytest.raises(SendError) as caught:
        await send(Text(text="Hi"), conn=conn)
    assert (caught.value.retryable, caught.value.error_code) == (False, "config")


async def test_content_that_was_not_degraded_is_refused() -> None:
    options = [Option(title="M", payload="m"), Option(title="L", payload="l")]
    with pytest.raises(SendError, match="degrade"):
        await send(QuickReplies(text="Size?", options=options))


def test_capabilities_degrade_to_text_and_images() -> None:
    caps = ADAPTER.manifest.capabilities
    assert caps.media == frozenset({"image"})
    parts = degrade(Text(text="word " * 800), caps)
    assert len(parts) == 3 and all(isinstance(p, Text) and len(p.text) <= 1600 for p in parts)
    [pdf] = degrade(Media(kind="file", url="https://shop.test/i.pdf", filename="i.pdf"), caps)
    assert pdf == Text(text="i.pdf\nhttps://shop.test/i.pdf")


def twilio_error(status: int, code: int, headers: dict[str, str] | None = None) -> Any:
    body = {
        "code": code,
        "message": "m",
        "more_info": f"https://twilio.com/{code}",
        "status": status,
    }
    return lambda _r: httpx.Response(status, json=body, headers=headers or {})


@pytest.mark.parametrize(
    ("status", "code", "retryable", "error_code", "retry_after"),
    [
        (400, 21610, False, "opted_out", None),
        (400, 21211, False, "invalid_recipient", None),
        (400, 21614, False, "invalid_recipient", None),
        (429, 20429, True, "rate_limited", 1.0),
        (400, 63018, True, "rate_limited", 1.0),
        (401, 20003, False, "auth", None),
        (400, 21608, False, "twilio_21608", None),
        (500, 20500, True, "http_500", None),
        (503, 20503, True, "http_503", None),
    ],
)
async def test_send_error_mapping(
    status: int, code: int, retryable: bool, error_code: str, retry_after: float | None
) -> None:
    recorder = Recorder(twilio_error(status, code))
    async with recorder.client() as http:
        with pytest.raises(SendError) as caught:
            await ADAPTER.send(http, CONNECTION, "+1", Text(text="x"), idempotency_key="k")
    error = caught.value
    assert (error.retryable, error.error_code, error.http_status) == (retryable, error_code, status)
    assert error.retry_after == retry_after
    assert str(code) in error.detail


async def test_retry_after_header_wins() -> None:
    recorder = Recorder(twilio_error(429, 20429, {"Retry-After": "12"}))
    async with recorder.client() as http:
        with pytest.raises(SendError) as caught:
            await ADAPTER.send(http, CONNECTION, "+1", Text(text="x"), idempotency_key="k")
    assert caught.value.retry_after == 12
