"""Twilio Voice webhooks (form-encoded) → what happened on the call.

Twilio calls the connection's webhook URL when a call comes in (``CallStatus=ringing``) and,
when configured as the number's status callback, when it ends (``completed``, ``busy``,
``no-answer``, ``failed``, ``canceled``). Every further request comes from TwiML that Toonbank
answered with, and carries ``step`` and the call's ``turn`` in the URL's query (Twilio signs the
whole URL, so these cannot be altered):

- ``step=gather``: a ``<Gather>`` heard something: ``SpeechResult`` (with ``Confidence``) or
  ``Digits``. That is the caller's message, with the deduplication key ``{CallSid}:{turn}``
  (Twilio retrying the request stores nothing twice);
- ``step=listen``: a ``<Gather>`` heard nothing (``tries`` counts the attempts);
- ``step=poll``: the caller is on hold while the answer to ``turn`` is prepared;
- ``step=dialed``: a transfer ended (``DialCallStatus``).

``locale`` in the query keeps the speech locale the call settled on between requests.

The caller is ``From``: in E.164 for phone calls, which makes it the contact's phone number, so
a caller and the same customer on SMS or WhatsApp are one contact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from toonbank.channels.base import InboundMessage, InboundRequest, PayloadError
from toonbank.channels.content import Text
from toonbank.channels.twilio.signature import request_params
from toonbank.channels.twilio_voice.speech import TRANSFER_DIGIT, wants_a_person

STEPS = frozenset({"call", "gather", "listen", "poll", "dialed"})
ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
MAX_TURN = 100_000
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
_TRAILING_PUNCTUATION = " .!?\u3002"


@dataclass(frozen=True, slots=True)
class CallWebhook:
    """One voice webhook: which step of the call, who calls, and what they said."""

    step: str
    """``call`` (a new call), ``gather``, ``listen``, ``poll``, ``dialed`` or ``ended``."""
    call_sid: str
    caller: str
    phone: str | None
    call_status: str
    turn: int
    tries: int
    caller_name: str | None = None
    speech: str | None = None
    confidence: float | None = None
    digits: str | None = None
    dial_status: str | None = None
    locale: str | None = None

    @property
    def message_id(self) -> str:
        """The deduplication key of what the caller said in this turn."""
        return f"{self.call_sid}:{self.turn}"


def read_call(request: InboundRequest) -> CallWebhook | None:
    """The call webhook in ``request``, or None when it is not about a call (a message status)."""
    params = request_params(request)
    sid = params.get("CallSid")
    if not sid:
        if params.get("MessageSid"):
            return None
        raise PayloadError("not a Twilio voice webhook: no CallSid")
    caller = (params.get("From") or params.get("Caller") or "").strip()
    if not caller:
        raise PayloadError("Twilio voice webhook without From")
    status = (params.get("CallStatus") or "").lower()
    step = request.query.get("step") or ("ended" if status in ENDED else "call")
    if step not in STEPS and step != "ended":
        raise PayloadError(f"unknown voice step {step!r}")
    return CallWebhook(
        step=step,
        call_sid=sid[:64],
        caller=caller[:255],
        phone=caller if _E164.fullmatch(caller) else None,
        call_status=status,
        turn=_count(request.query, "turn", default=1),
        tries=_count(request.query, "tries", default=0),
        caller_name=(params.get("CallerName") or None),
        speech=(params.get("SpeechResult") or None),
        confidence=_confidence(params.get("Confidence")),
        digits=(params.get("Digits") or None),
        dial_status=(params.get("DialCallStatus") or None),
        locale=_locale(request.query.get("locale")),
    )


def utterance(call: CallWebhook) -> InboundMessage | None:
    """What the caller said (or pressed) in a ``gather`` step, as their message."""
    extra: dict[str, Any] = {}
    if call.digits:
        text = call.digits.strip()
        extra["input"] = "dtmf"
        wants_transfer = text == TRANSFER_DIGIT
    else:
        text = (call.speech or "").strip().rstrip(_TRAILING_PUNCTUATION).strip()
        extra["input"] = "speech"
        if call.confidence is not None:
            extra["confidence"] = call.confidence
        wants_transfer = wants_a_person(text)
    if not text:
        return None
    if wants_transfer:
        extra["transfer"] = True
    return InboundMessage(
        provider_message_id=call.message_id,
        sender_id=call.caller,
        sender_name=call.caller_name,
        phone=call.phone,
        content=Text(text=text[:4096]),
        extra=extra,
    )


def _count(query: Any, name: str, *, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PayloadError(f"{name} is not a number") from None
    if not 0 <= value <= MAX_TURN:
        raise PayloadError(f"{name} is out of range")
    return value


def _locale(raw: str | None) -> str | None:
    if not raw:
        return None
    if not _LOCALE.fullmatch(raw):
        raise PayloadError("locale is not a BCP-47 language tag")
    return raw


def _confidence(raw: str | None) -> float | None:
    try:
        return round(float(raw), 4) if raw else None
    except ValueError:
        return None
