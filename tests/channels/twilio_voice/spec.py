"""Conformance spec for Twilio Programmable Voice (``twilio-voice``).

No recorded voice webhooks exist in ``../shared/reference/payloads``; the call payloads below
carry the parameters Twilio documents for voice requests (``CallSid``, ``AccountSid``, ``From``,
``To``, ``Caller``, ``Called``, ``CallStatus``, ``Direction``, ``ApiVersion`` and the geographic
fields; ``SpeechResult``/``Confidence`` or ``Digits`` after a ``<Gather>``), with blank values as
Twilio sends them. The SMS status callback is the recorded ``twilio_status_delivered.form``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.channels.conformance import AdapterSpec, connection, reference_payload, request
from tests.channels.twilio.spec import message_created, too_many_requests
from twilio.request_validator import RequestValidator

from toonbank.channels.base import InboundRequest
from toonbank.channels.content import PaymentLink
from toonbank.channels.twilio_voice import TwilioVoiceChannel

ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "twilio-voice-auth-token"
FROM_NUMBER = "+12028831111"
CALLER = "+14158675309"
CALL_SID = "CA5f7b1c2e8a1d4e0012c3b4a5d6e7f809"
GATHER_URL = "https://toonbank.test/webhooks/conn-test?step=gather&turn=1&locale=en-US"


def call_params(**extra: str) -> dict[str, str]:
    """The parameters of a voice request for an inbound call from ``CALLER``."""
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": CALL_SID,
        "CallStatus": "ringing",
        "Called": FROM_NUMBER,
        "CalledCity": "WASHINGTON",
        "CalledCountry": "US",
        "CalledState": "DC",
        "CalledZip": "",
        "Caller": CALLER,
        "CallerCity": "SAN FRANCISCO",
        "CallerCountry": "US",
        "CallerState": "CA",
        "CallerZip": "94107",
        "Direction": "inbound",
        "From": CALLER,
        "FromCity": "SAN FRANCISCO",
        "FromCountry": "US",
        "FromState": "CA",
        "FromZip": "94107",
        "To": FROM_NUMBER,
        "ToCity": "WASHINGTON",
        "ToCountry": "US",
        "ToState": "DC",
        "ToZip": "",
    }
    params.update(extra)
    return params


def form(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()


SPEECH = form(
    call_params(CallStatus="in-progress", SpeechResult="I'd like a blazer.", Confidence="0.92")
)
DIGITS = form(call_params(CallStatus="in-progress", Digits="2", FinishedOnKey=""))


def signed(body: bytes, *, url: str = GATHER_URL, token: str = AUTH_TOKEN) -> InboundRequest:
    """A request signed as Twilio signs it (the official SDK's ``RequestValidator``)."""
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))  # no repeated names here
    signature = RequestValidator(token).compute_signature(url, params)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signature,
    }
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return request(body, headers, url=url, query=query)


CONNECTION = connection(
    "twilio-voice",
    {"auth_token": AUTH_TOKEN},
    {"account_sid": ACCOUNT_SID, "from_number": FROM_NUMBER},
    api_base_url="https://twilio.test",
)

SPECS = [
    AdapterSpec(
        adapter=TwilioVoiceChannel(),
        connection=CONNECTION,
        sign=signed,
        payloads=[SPEECH, DIGITS, reference_payload("twilio_status_delivered.form")],
        recipient=CALLER,
        ok_response=message_created,
        rate_limited=too_many_requests,
        signature_headers=("x-twilio-signature",),
        send_probe=PaymentLink(url="https://pay.test/l/abc", amount=13445, currency="EUR"),
    )
]
