"""Twilio Programmable Messaging webhooks (form-encoded) → neutral events.

One webhook is either an inbound message (SMS, MMS or WhatsApp via Twilio) or a status callback
for a message we sent (``MessageStatus``). Mapping rules:

- ``MessageSid`` is the deduplication key. ``From`` is kept verbatim as ``sender_id`` (with the
  ``whatsapp:`` prefix for WhatsApp, so replies go back on WhatsApp); ``phone`` is the E.164
  number without the prefix (or ``+`` + ``WaId`` when ``From`` is not a number).
- Media: the *first* event of a message always carries ``MessageSid``; further media items get
  ``f"{sid}:media{i}"``. ``Body`` becomes the caption of the first media item when it fits a
  caption (1024 chars); a longer body becomes its own Text event first.
- ``ButtonPayload``/``ButtonText`` (WhatsApp quick-reply tap) → :class:`Reply`;
  ``Latitude``/``Longitude`` → :class:`Location`.
- SMS opt-out keywords (Twilio's standard STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT) are
  ordinary Text with ``extra={"opt_out": True}``; START, YES, UNSTOP get ``{"opt_in": True}``;
  HELP, INFO get ``{"help": True}``. Only for SMS: on WhatsApp "cancel" usually means the order.
- Status callbacks: sent/delivered/read map 1:1, undelivered/failed/canceled → failed; interim
  states (queued, accepted, sending, scheduled, …) are skipped. ``ErrorCode`` 21610 →
  ``opted_out``, 63018/20429 → ``rate_limited``, 63016 → ``window_closed``, 21211/21614 →
  ``invalid_recipient``, anything else keeps the numeric code; ``error_detail`` always holds
  the numeric Twilio code.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from typing import Any, Literal

from toonbank.channels.base import DeliveryReceipt, InboundMessage, ParsedEvent, PayloadError
from toonbank.channels.content import Content, Location, Media, Reply, Text

CAPTION_LIMIT = 1024
MAX_MEDIA = 10
"""Twilio delivers at most 10 media items per message."""

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})

STATUSES: dict[str, Literal["sent", "delivered", "read", "failed"]] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}
INTERIM_STATUSES = frozenset(
    {"queued", "accepted", "scheduled", "sending", "receiving", "received", "partially_delivered"}
)

ERROR_CODES: dict[str, str] = {
    "21610": "opted_out",
    "63018": "rate_limited",
    "20429": "rate_limited",
    "63016": "window_closed",
    "21211": "invalid_recipient",
    "21614": "invalid_recipient",
}
"""Twilio error codes with a stable neutral name (shared by receipts and send errors)."""

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_CHANNEL_PREFIX = re.compile(r"^[a-z]+:")


def parse_form(params: Mapping[str, str]) -> list[ParsedEvent]:
    """Events of one Twilio messaging webhook (``params``: first value of each form field)."""
    sid = params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid")
    if not sid:
        raise PayloadError("not a Twilio messaging webhook: no MessageSid")
    status = (params.get("MessageStatus") or "").lower()
    if status and status not in ("received", "receiving"):
        receipt = _receipt(sid, status, params)
        return [receipt] if receipt else []
    return _messages(sid, params)


def _receipt(sid: str, status: str, params: Mapping[str, str]) -> DeliveryReceipt | None:
    """A delivery receipt, or None for interim or unknown states."""
    neutral = STATUSES.get(status)
    if neutral is None:
        return None
    code = (params.get("ErrorCode") or "").strip()
    return DeliveryReceipt(
        provider_message_id=sid,
        status=neutral,
        error_code=(ERROR_CODES.get(code, code) or None) if code else None,
        error_detail=code or None,
    )


def _messages(sid: str, params: Mapping[str, str]) -> list[ParsedEvent]:
    """One inbound message → one or more InboundMessage events (see the module docstring)."""
    sender = params.get("From") or ""
    if not sender:
        raise PayloadError("inbound Twilio message without From")
    contents = _contents(params)
    extra = _keyword_flags(sender, contents)
    common: dict[str, Any] = {
        "sender_id": sender[:255],
        "sender_name": (params.get("ProfileName") or None),
        "phone": _phone(sender, params.get("WaId")),
        "reply_to": params.get("OriginalRepliedMessageSid") or None,
    }
    events: list[ParsedEvent] = []
    for index, content in enumerate(contents):
        provider_id = sid if index == 0 else f"{sid}:media{_media_index(contents, index)}"
        events.append(
            InboundMessage(provider_message_id=provider_id, content=content, extra=extra, **common)
        )
    return events


def _media_index(contents: list[Content], index: int) -> int:
    """The Twilio media index (``MediaUrl{i}``) of ``contents[index]``."""
    media_before = sum(1 for c in contents[:index] if isinstance(c, Media))
    return media_before


def _contents(params: Mapping[str, str]) -> list[Content]:
    """The neutral contents of an inbound message, in display order."""
    body = params.get("Body") or ""
    button = params.get("ButtonPayload") or params.get("ButtonText")
    if button:
        title = params.get("ButtonText") or None
        return [Reply(payload=button[:256], title=title[:255] if title else None)]
    location = _location(params)
    if location is not None:
        return [location]
    media = _media(params)
    if not media:
        return [Text(text=body[:4096])] if body.strip() else []
    if body.strip() and len(body) <= CAPTION_LIMIT:
        return [media[0].model_copy(update={"caption": body}), *media[1:]]
    head: list[Content] = [Text(text=body[:4096])] if body.strip() else []
    return head + list(media)


def _media(params: Mapping[str, str]) -> list[Media]:
    """``MediaUrl{i}``/``MediaContentType{i}`` as Media items."""
    try:
        count = min(int(params.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        raise PayloadError("NumMedia is not a number") from None
    items: list[Media] = []
    for i in range(count):
        url = params.get(f"MediaUrl{i}")
        if not url:
            continue
        mime = params.get(f"MediaContentType{i}") or None
        guessed = mime or mimetypes.guess_type(url)[0]
        items.append(Media(kind=_kind(guessed), url=url[:2048], mime_type=mime))
    return items


def _kind(mime: str | None) -> Literal["image", "audio", "video", "file"]:
    major = (mime or "").split("/", 1)[0].lower()
    if major == "image":
        return "image"
    if major == "audio":
        return "audio"
    if major == "video":
        return "video"
    return "file"


def _location(params: Mapping[str, str]) -> Location | None:
    """WhatsApp location (``Latitude``/``Longitude``, optional ``Label``/``Address``)."""
    lat, lon = params.get("Latitude"), params.get("Longitude")
    if not lat or not lon:
        return None
    try:
        return Location(
            latitude=float(lat),
            longitude=float(lon),
            name=(params.get("Label") or None),
            address=(params.get("Address") or None),
        )
    except ValueError:
        raise PayloadError("Latitude/Longitude are not valid coordinates") from None


def _phone(sender: str, wa_id: str | None) -> str | None:
    """The E.164 number behind ``From`` ("whatsapp:+3161…" → "+3161…"), if it is one."""
    number = _CHANNEL_PREFIX.sub("", sender)
    if _E164.fullmatch(number):
        return number
    if wa_id and wa_id.isdigit():
        return "+" + wa_id
    return None


def _keyword_flags(sender: str, contents: list[Content]) -> dict[str, bool]:
    """Twilio's standard SMS opt-out / opt-in / help keywords (SMS only, exact match)."""
    if _CHANNEL_PREFIX.match(sender) or len(contents) != 1 or not isinstance(contents[0], Text):
        return {}
    word = contents[0].text.strip().upper()
    if word in OPT_OUT:
        return {"opt_out": True}
    if word in OPT_IN:
        return {"opt_in": True}
    if word in HELP:
        return {"help": True}
    return {}
