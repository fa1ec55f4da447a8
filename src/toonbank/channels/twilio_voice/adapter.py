"""Twilio Programmable Voice: a phone call is a conversation.

Settings (named as in Twilio's docs): ``account_sid`` and ``auth_token`` (secret) — required;
``from_number``, the called Twilio number (E.164), which also sends the links of a call by SMS
(``sms_from`` or ``messaging_service_sid`` send them from elsewhere); ``language``, the speech
locale of the number (BCP-47, default ``en-US``); ``voice`` (e.g. ``Polly.Joanna``, used for
that locale); ``speech_model`` (``<Gather speechModel>``); ``transfer_number`` (E.164: pressing
0, asking for "an agent", or a handover to people dials it); ``greeting``; ``reply_wait_seconds``
(how long a request waits for the answer before the caller is put on hold, default 3);
``status_callback_url`` (delivery receipts of the SMS).

Voice webhooks are synchronous: Twilio waits for TwiML. The adapter only verifies and parses;
the call itself is conducted by :mod:`toonbank.voice.calls`, which the webhook route hands
``twilio-voice`` requests to, because each answer depends on what the pipeline replied (read
from the database, so any web process can answer any request of any call).

Outbound: the pipeline's replies for a caller are *spoken* by the call (the call controller
reads them from the outbox), so :meth:`TwilioVoiceChannel.send` makes no request for them and
returns its idempotency key as the provider id; the controller then reports them ``delivered``
under that id once they are spoken (or ``failed``/``call_ended`` when the caller hung up
first). What a call cannot say — links, payment links, pictures, documents — is sent to the
caller by SMS through Twilio's Messages API (the ``twilio`` channel's code), and the call says
so.
"""

from __future__ import annotations

import dataclasses
import re

import httpx

from toonbank.channels.base import (
    ChannelAdapter,
    Connection,
    DeliveryReceipt,
    InboundRequest,
    Manifest,
    ParsedEvent,
    PayloadError,
    SendError,
    SendResult,
    WebhookResponse,
)
from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content, Media, Text
from toonbank.channels.render import format_plain
from toonbank.channels.twilio import TwilioChannel
from toonbank.channels.twilio.inbound import parse_form
from toonbank.channels.twilio.signature import request_params, verify_signature
from toonbank.channels.twilio_voice import twiml
from toonbank.channels.twilio_voice.inbound import read_call, utterance
from toonbank.channels.twilio_voice.speech import sent_by_text_message

TYPE = "twilio-voice"
SMS_BODY_LIMIT = 1600
_E164 = re.compile(r"\+[1-9]\d{6,14}")

CAPABILITIES = Capabilities(
    text=True,
    media=frozenset({"image", "audio", "video", "file"}),
    location=False,
    contact_card=False,
    max_buttons=9,
    list_picker=False,
    product_card=False,
    carousel=False,
    order_summary=False,
    payment_link=True,
    template=False,
    markdown_links=False,
    max_text_length=4000,
)
"""Speech: text (``<Say>`` takes up to 4096 characters), up to 9 options (one keypad digit each),
audio played, other media and payment links announced and sent by SMS. Everything else is
degraded to text first."""

_MESSAGING = TwilioChannel()


class TwilioVoiceChannel(ChannelAdapter):
    """Phone calls through Twilio Programmable Voice (TwiML ``<Say>`` / ``<Gather>``)."""

    manifest = Manifest(
        type=TYPE,
        title="Twilio Voice (phone calls)",
        capabilities=CAPABILITIES,
        required_settings=("account_sid", "auth_token"),
        secret_settings=("auth_token",),
        default_rate_per_second=10,
        idempotent_sends=False,
    )

    def verify(self, request: InboundRequest, connection: Connection) -> None:
        """``X-Twilio-Signature`` over the public URL (with its ``step`` query) and the form."""
        verify_signature(request, connection)

    def parse(self, request: InboundRequest, connection: Connection) -> list[ParsedEvent]:
        """What the caller said in a ``gather`` step; receipts of the SMS this channel sent.

        Other call webhooks (a new call, nothing heard, hold, end) carry no message: the call
        controller acts on them (:func:`toonbank.channels.twilio_voice.inbound.read_call`).
        """
        call = read_call(request)
        if call is None:
            params = request_params(request)
            if not params.get("MessageStatus"):
                raise PayloadError(
                    "an SMS reached the voice connection; point the number's messaging webhook "
                    "at a twilio connection"
                )
            return [e for e in parse_form(params) if isinstance(e, DeliveryReceipt)]
        if call.step != "gather":
            return []
        message = utterance(call)
        return [message] if message is not None else []

    def acknowledge(self, events: list[ParsedEvent]) -> WebhookResponse:
        return WebhookResponse(status=200, body=twiml.empty(), media_type="text/xml")

    async def send(
        self,
        http: httpx.AsyncClient,
        connection: Connection,
        recipient: str,
        content: Content,
        *,
        idempotency_key: str,
    ) -> SendResult:
        """Speech is spoken by the live call (no request); links and media go out by SMS."""
        if not sent_by_text_message(content):
            return SendResult(provider_message_id=idempotency_key)
        if not _E164.fullmatch(recipient):
            raise SendError(
                "the caller has no phone number to send the link to (SIP or app call)",
                retryable=False,
                error_code="invalid_recipient",
            )
        return await _MESSAGING.send(
            http,
            _sms_connection(connection),
            recipient,
            _sms_content(content),
            idempotency_key=idempotency_key,
        )


def _sms_connection(connection: Connection) -> Connection:
    """The connection as the Messages API sender (``sms_from`` overrides ``from_number``)."""
    sms_from = connection.settings.get("sms_from")
    if not sms_from:
        return connection
    return dataclasses.replace(
        connection, settings={**connection.settings, "from_number": sms_from}
    )


def _sms_content(content: Content) -> Content:
    """The SMS for an item the call cannot show: pictures as MMS, everything else as text."""
    if isinstance(content, Media) and content.kind == "image":
        return content
    text = content.text if isinstance(content, Text) else format_plain(content)
    if len(text) > SMS_BODY_LIMIT:
        text = text[: SMS_BODY_LIMIT - 1].rstrip() + "\u2026"
    return Text(text=text)
