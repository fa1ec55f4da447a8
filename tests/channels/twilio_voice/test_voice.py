"""Twilio Voice adapter: call webhooks, what the caller said, speech rendering, TwiML, sends."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from urllib.parse import parse_qs

import httpx
import pytest
from tests.channels.conformance import SAMPLES, Recorder, reference_payload
from tests.channels.twilio.spec import MESSAGE_SID, message_created
from tests.channels.twilio_voice.spec import (
    ACCOUNT_SID,
    CALL_SID,
    CALLER,
    CONNECTION,
    DIGITS,
    FROM_NUMBER,
    GATHER_URL,
    SPEECH,
    call_params,
    form,
    signed,
)

from toonbank.channels.base import (
    DeliveryReceipt,
    InboundMessage,
    ParsedEvent,
    PayloadError,
    SendError,
    SignatureError,
)
from toonbank.channels.content import (
    ListPicker,
    ListSection,
    Media,
    Option,
    PaymentLink,
    QuickReplies,
    Text,
)
from toonbank.channels.render import degrade
from toonbank.channels.twilio_voice import TwilioVoiceChannel
from toonbank.channels.twilio_voice.inbound import read_call
from toonbank.channels.twilio_voice.speech import (
    Play,
    Say,
    call_locale,
    sent_by_text_message,
    speak,
    wants_a_person,
)
from toonbank.channels.twilio_voice.twiml import Speaker, listen

ADAPTER = TwilioVoiceChannel()
WEBHOOK = "https://toonbank.test/webhooks/conn-test"


def parse(body: bytes, url: str = GATHER_URL) -> list[ParsedEvent]:
    req = signed(body, url=url)
    ADAPTER.verify(req, CONNECTION)
    return ADAPTER.parse(req, CONNECTION)


# --------------------------------------------------------------------------------------------
# Webhooks
# --------------------------------------------------------------------------------------------


def test_speech_becomes_the_callers_message() -> None:
    [message] = parse(SPEECH)
    assert isinstance(message, InboundMessage)
    assert message.provider_message_id == f"{CALL_SID}:1"
    assert message.sender_id == CALLER
    assert message.phone == CALLER
    assert message.content == Text(text="I'd like a blazer")  # Twilio's punctuation dropped
    assert message.extra == {"input": "speech", "confidence": 0.92}


def test_key_press_becomes_a_digit_message() -> None:
    [message] = parse(DIGITS, url=GATHER_URL.replace("turn=1", "turn=4"))
    assert isinstance(message, InboundMessage)
    assert message.provider_message_id == f"{CALL_SID}:4"
    assert message.content == Text(text="2")
    assert message.extra == {"input": "dtmf"}


@pytest.mark.parametrize(
    ("params", "transfer"),
    [
        ({"Digits": "0"}, True),
        ({"SpeechResult": "Agent."}, True),
        ({"SpeechResult": "Can I talk to a person, please?"}, True),
        ({"SpeechResult": "Een medewerker alstublieft"}, True),
        ({"SpeechResult": "I want a gift for my travel agent who helped us book the trip"}, False),
        ({"SpeechResult": "Order status"}, False),
        ({"Digits": "3"}, False),
    ],
)
def test_asking_for_a_person_is_flagged(params: dict[str, str], transfer: bool) -> None:
    [message] = parse(form(call_params(CallStatus="in-progress", **params)))
    assert isinstance(message, InboundMessage)
    assert bool(message.extra.get("transfer")) is transfer


@pytest.mark.parametrize(
    ("status", "url", "step"),
    [
        ("ringing", WEBHOOK, "call"),
        ("completed", WEBHOOK, "ended"),
        ("no-answer", WEBHOOK, "ended"),
        ("in-progress", f"{WEBHOOK}?step=poll&turn=2&tries=3&locale=nl-NL", "poll"),
        ("in-progress", f"{WEBHOOK}?step=listen&turn=1&tries=1", "listen"),
    ],
)
def test_other_call_webhooks_carry_no_message(status: str, url: str, step: str) -> None:
    body = form(call_params(CallStatus=status))
    assert parse(body, url=url) == []
    call = read_call(signed(body, url=url))
    assert call is not None
    assert call.step == step
    assert call.caller == CALLER


def test_the_step_state_comes_from_the_signed_url() -> None:
    url = f"{WEBHOOK}?step=poll&turn=2&tries=3&locale=nl-NL"
    call = read_call(signed(form(call_params(CallStatus="in-progress")), url=url))
    assert call is not None
    assert (call.turn, call.tries, call.locale, call.message_id) == (2, 3, "nl-NL", f"{CALL_SID}:2")
    # Changing the query (another turn) breaks Twilio's signature over the URL.
    good = signed(form(call_params(CallStatus="in-progress")), url=url)
    with pytest.raises(SignatureError):
        ADAPTER.verify(replace(good, url=url.replace("turn=2", "turn=3")), CONNECTION)


@pytest.mark.parametrize(
    "url",
    [
        f"{WEBHOOK}?step=transmogrify",
        f"{WEBHOOK}?step=gather&turn=two",
        f"{WEBHOOK}?step=gather&turn=-1",
        f"{WEBHOOK}?step=gather&turn=1&locale=en_US%3Cscript%3E",
    ],
)
def test_bad_step_state_is_a_payload_error(url: str) -> None:
    with pytest.raises(PayloadError):
        parse(SPEECH, url=url)


def test_not_a_voice_webhook() -> None:
    with pytest.raises(PayloadError):
        parse(form({"AccountSid": ACCOUNT_SID, "From": CALLER}))
    with pytest.raises(PayloadError, match="messaging webhook"):  # an SMS sent to this number
        parse(reference_payload("twilio_sms_inbound.form"), url=WEBHOOK)


def test_status_callbacks_of_the_sms_it_sent_are_receipts() -> None:
    [receipt] = parse(reference_payload("twilio_status_delivered.form"), url=WEBHOOK)
    assert isinstance(receipt, DeliveryReceipt)
    assert receipt.status == "delivered"


def test_app_and_sip_callers_have_no_phone_number() -> None:
    [message] = parse(
        form(call_params(From="client:alice", Caller="client:alice", SpeechResult="hi"))
    )
    assert isinstance(message, InboundMessage)
    assert (message.sender_id, message.phone) == ("client:alice", None)


# --------------------------------------------------------------------------------------------
# Speech
# --------------------------------------------------------------------------------------------


def sizes(n: int) -> QuickReplies:
    names = ["Small", "Medium", "Large"][:n]
    return QuickReplies(
        text="Which size?", options=[Option(title=t, payload=f"size:{t}") for t in names]
    )


@pytest.mark.parametrize(
    ("options", "spoken"),
    [
        (1, "Which size? Say or press 1 for Small."),
        (2, "Which size? Say or press 1 for Small or 2 for Medium."),
        (3, "Which size? Say or press 1 for Small, 2 for Medium, or 3 for Large."),
    ],
)
def test_buttons_are_spoken_with_their_keys(options: int, spoken: str) -> None:
    assert speak(sizes(options), "en-US") == [Say(text=spoken)]


def test_buttons_in_dutch() -> None:
    assert speak(sizes(2), "nl-NL") == [
        Say(text="Which size? Zeg of toets 1 voor Small of 2 voor Medium.")
    ]


def test_links_are_left_out_and_sent_by_text_message() -> None:
    text = Text(text="Track it here: https://shop.test/t/1\nThanks")
    assert sent_by_text_message(text)
    assert speak(text, "en-US") == [
        Say(text="Track it here. Thanks. I have sent you the link by text message.")
    ]
    assert not sent_by_text_message(Text(text="No links here"))


def test_numbered_text_invites_a_key_press() -> None:
    picker = ListPicker(
        text="Choose a store",
        sections=[
            ListSection(
                title="Amsterdam",
                options=[
                    Option(title="Kalverstraat", payload="s1"),
                    Option(title="Zuidas", payload="s2"),
                ],
            )
        ],
    )
    [text] = degrade(picker, ADAPTER.manifest.capabilities)
    assert speak(text, "en-US") == [
        Say(
            text="Choose a store. Amsterdam. 1. Kalverstraat. 2. Zuidas. "
            "Say or press the number of your choice."
        )
    ]


def test_media_and_payment_links() -> None:
    audio = Media(kind="audio", url="https://shop.test/a.mp3", caption="Our jingle")
    assert speak(audio, "en-US") == [Say(text="Our jingle."), Play(url="https://shop.test/a.mp3")]
    assert not sent_by_text_message(audio)
    image = Media(kind="image", url="https://shop.test/i.jpg", caption="The navy one")
    assert speak(image, "en-US") == [
        Say(text="The navy one. I have sent you a picture by text message.")
    ]
    link = PaymentLink(url="https://pay.test/l/abc", amount=13445, currency="EUR")
    assert speak(link, "nl-NL") == [
        Say(text="Om €134.45 te betalen heb ik u een veilige betaallink per sms gestuurd.")
    ]


def test_every_neutral_content_type_can_be_spoken() -> None:
    for content in SAMPLES:
        for part in degrade(content, ADAPTER.manifest.capabilities):
            assert isinstance(part, Text | QuickReplies | Media | PaymentLink)
            assert speak(part, "en-US"), part


def test_order_summaries_read_as_sentences() -> None:
    summary = next(c for c in SAMPLES if c.type == "order_summary")
    [text] = degrade(summary, ADAPTER.manifest.capabilities)
    assert speak(text, "en-US") == [
        Say(text="Cart. 1 Linen blazer, €129.50. Shipping: €4.95. Total: €134.45.")
    ]


@pytest.mark.parametrize(
    ("conversation", "configured", "locale"),
    [
        (None, "en-GB", "en-GB"),
        ("en", "en-GB", "en-GB"),
        ("nl", "en-US", "nl-NL"),
        ("pt-PT", "en-US", "pt-PT"),
        ("xx", "en-US", "en-US"),
        (None, None, "en-US"),
    ],
)
def test_the_callers_language_picks_the_speech_locale(
    conversation: str | None, configured: str | None, locale: str
) -> None:
    assert call_locale(conversation, configured) == locale


def test_transfer_words_need_a_short_utterance() -> None:
    assert wants_a_person("operator")
    assert wants_a_person("Représentant? Non: un conseiller!")
    assert not wants_a_person("")
    assert not wants_a_person("personal shopper")


def test_twiml_escapes_what_it_says() -> None:
    body = listen(
        Speaker(locale="en-US"),
        [Say(text='Fish & <chips> "now"')],
        action="https://t.test/w?step=gather&turn=2",
        retry="https://t.test/w?step=listen&turn=2&tries=1",
    )
    assert b"Fish &amp; &lt;chips&gt;" in body
    root = ET.fromstring(body)  # noqa: S314 - our own output
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("action") == "https://t.test/w?step=gather&turn=2"
    assert [s.text for s in gather.iter("Say")] == ['Fish & <chips> "now"']


# --------------------------------------------------------------------------------------------
# Sends
# --------------------------------------------------------------------------------------------


async def send(
    content: object, connection: object = CONNECTION, recipient: str = CALLER
) -> tuple[str | None, list[dict[str, str]]]:
    recorder = Recorder(message_created)
    async with recorder.client() as http:
        result = await ADAPTER.send(
            http,
            connection,
            recipient,
            content,
            idempotency_key="toonbank-7",  # type: ignore[arg-type]
        )
    forms = [{k: v[0] for k, v in parse_qs(r.content.decode()).items()} for r in recorder.requests]
    return result.provider_message_id, forms


async def test_speech_is_not_sent_anywhere() -> None:
    assert await send(Text(text="Hello")) == ("toonbank-7", [])
    assert await send(sizes(3)) == ("toonbank-7", [])
    assert await send(Media(kind="audio", url="https://shop.test/a.mp3")) == ("toonbank-7", [])


async def test_links_media_and_payment_links_go_out_by_sms() -> None:
    sid, [sms] = await send(Text(text="Track it: https://shop.test/t/1"))
    assert sid == MESSAGE_SID
    assert sms == {"To": CALLER, "From": FROM_NUMBER, "Body": "Track it: https://shop.test/t/1"}
    _, [mms] = await send(Media(kind="image", url="https://shop.test/i.jpg", caption="Navy"))
    assert mms == {
        "To": CALLER,
        "From": FROM_NUMBER,
        "MediaUrl": "https://shop.test/i.jpg",
        "Body": "Navy",
    }
    _, [doc] = await send(Media(kind="file", url="https://shop.test/i.pdf", filename="i.pdf"))
    assert doc["Body"] == "i.pdf\nhttps://shop.test/i.pdf"
    _, [pay] = await send(PaymentLink(url="https://pay.test/l/abc", amount=995, currency="USD"))
    assert pay["Body"] == "Pay $9.95 securely: https://pay.test/l/abc"


async def test_links_can_come_from_another_sender() -> None:
    other = replace(CONNECTION, settings={**CONNECTION.settings, "sms_from": "+12028832222"})
    _, [sms] = await send(Text(text="https://shop.test"), connection=other)
    assert sms["From"] == "+12028832222"
    service = replace(
        CONNECTION,
        settings={"account_sid": ACCOUNT_SID, "messaging_service_sid": "MG" + "0" * 32},
    )
    _, [sms] = await send(Text(text="https://shop.test"), connection=service)
    assert sms["MessagingServiceSid"] == "MG" + "0" * 32
    assert "From" not in sms


async def test_a_caller_without_a_number_cannot_get_links() -> None:
    with pytest.raises(SendError) as caught:
        await send(Text(text="https://shop.test"), recipient="client:alice")
    assert caught.value.error_code == "invalid_recipient"
    assert not caught.value.retryable


async def test_sms_failures_are_classified_like_twilio_sms() -> None:
    recorder = Recorder(lambda _r: httpx.Response(400, json={"code": 21211, "message": "bad To"}))
    async with recorder.client() as http:
        with pytest.raises(SendError) as caught:
            await ADAPTER.send(
                http, CONNECTION, CALLER, Text(text="https://x.test"), idempotency_key="k"
            )
    assert caught.value.error_code == "invalid_recipient"
