"""Viber callbacks → neutral events.

Every callback is one JSON object with ``event``. ``message_token`` is a 64-bit integer: it is
kept exact (Python's ``json`` parses integers as ``int``, never through ``float``) and becomes the
provider id as its decimal string. ``message`` → InboundMessage; ``delivered`` / ``seen`` /
``failed`` → DeliveryReceipt (``seen`` is ``read``); ``webhook`` (the set_webhook check),
``subscribed``, ``unsubscribed``, ``conversation_started`` and unknown events are skipped.

Keyboard answers: a reply button sends its ``ActionBody`` as an ordinary text message, and Viber
returns the ``tracking_data`` of our last message with it. Keyboards we send carry their options
in ``tracking_data`` (``{"tb_options": {action body: [payload, title]}}``), so a text equal to a
button's action body becomes ``Reply(payload, title)``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from toonbank.channels.base import (
    DeliveryReceipt,
    InboundMessage,
    ParsedEvent,
    PayloadError,
    ReceiptStatus,
)
from toonbank.channels.content import ContactCard, Content, Location, Media, Reply, Text

TRACKING_KEY = "tb_options"
TEXT_LIMIT = 4096
"""``Text`` holds 4096 characters; Viber allows 7000 (longer texts are cut, ``extra`` says so)."""
RECEIPTS: dict[str, ReceiptStatus] = {"delivered": "delivered", "seen": "read", "failed": "failed"}
MEDIA_KINDS: dict[str, Literal["image", "video", "file"]] = {
    "picture": "image",
    "video": "video",
    "file": "file",
}
SKIPPED = frozenset(
    {"webhook", "subscribed", "unsubscribed", "conversation_started", "client_status", "action"}
)


def token(value: Any) -> str:
    """The exact decimal string of a ``message_token`` (a float would have lost digits)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError("message_token must be an integer")
    text = str(value)
    if not text.isdigit():
        raise PayloadError("message_token must be an integer")
    return text


def _timestamp(value: Any) -> datetime | None:
    """Unix milliseconds → aware UTC (None when absent or absurd)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value // 1000, UTC) + timedelta(milliseconds=value % 1000)
    except (OverflowError, OSError, ValueError):
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_callback(data: Any) -> list[ParsedEvent]:
    """The events of one callback (zero or one)."""
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise PayloadError("body is not a Viber callback (no 'event')")
    event = data["event"]
    if event == "message":
        message = _message(data)
        return [message] if message is not None else []
    if event in RECEIPTS:
        return [_receipt(data, event)]
    return []


def _receipt(data: dict[str, Any], event: str) -> DeliveryReceipt:
    return DeliveryReceipt(
        provider_message_id=token(data.get("message_token")),
        status=RECEIPTS[event],
        timestamp=_timestamp(data.get("timestamp")),
        error_detail=_str(data.get("desc")) if event == "failed" else None,
    )


def _message(data: dict[str, Any]) -> InboundMessage | None:
    sender = data.get("sender")
    message = data.get("message")
    if not isinstance(sender, dict) or not _str(sender.get("id")):
        raise PayloadError("message callback without sender.id")
    if not isinstance(message, dict):
        raise PayloadError("message callback without a message object")
    extra: dict[str, Any] = {}
    try:
        content = _content(message, extra)
    except (KeyError, TypeError, ValidationError) as exc:
        kind = message.get("type")
        raise PayloadError(f"unreadable {kind} message: {type(exc).__name__}") from None
    if content is None:
        return None
    return InboundMessage(
        provider_message_id=token(data.get("message_token")),
        sender_id=sender["id"],
        content=content,
        sender_name=_str(sender.get("name")),
        timestamp=_timestamp(data.get("timestamp")),
        extra=extra,
    )


def keyboard_options(tracking_data: Any) -> dict[str, list[str]]:
    """The buttons of the keyboard we sent last: action body → [payload, title]."""
    if not isinstance(tracking_data, str) or TRACKING_KEY not in tracking_data:
        return {}
    try:
        decoded = json.loads(tracking_data)
    except ValueError:
        return {}
    options = decoded.get(TRACKING_KEY) if isinstance(decoded, dict) else None
    if not isinstance(options, dict):
        return {}
    return {
        body: value
        for body, value in options.items()
        if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
    }


def _text(message: dict[str, Any], extra: dict[str, Any]) -> Content | None:
    text = _str(message.get("text"))
    if text is None:
        return None
    chosen = keyboard_options(message.get("tracking_data")).get(text)
    if chosen is not None:
        payload, title = chosen
        return Reply(payload=payload, title=title or None)
    if len(text) > TEXT_LIMIT:
        extra["truncated"] = True
    return Text(text=text[:TEXT_LIMIT])


def _content(message: dict[str, Any], extra: dict[str, Any]) -> Content | None:
    """Text, picture, video, file, sticker, contact, location or url → content."""
    kind = message.get("type")
    media = _str(message.get("media"))
    if kind == "text":
        return _text(message, extra)
    if kind in MEDIA_KINDS and media:
        return Media(
            kind=MEDIA_KINDS[kind],
            url=media,
            caption=_str(message.get("text")) if kind == "picture" else None,
            filename=_str(message.get("file_name")),
        )
    if kind == "sticker" and media:
        extra["sticker_id"] = message.get("sticker_id")
        return Media(kind="image", url=media)
    if kind == "contact":
        contact = message["contact"]
        phone = _str(contact.get("phone_number"))
        name = _str(contact.get("name")) or phone or "Contact"
        return ContactCard(name=name, phones=[phone] if phone else [])
    if kind == "location":
        point = message["location"]
        return Location(
            latitude=point["lat"], longitude=point["lon"], address=_str(point.get("address"))
        )
    if kind == "url" and media:
        return Text(text=media[:TEXT_LIMIT])
    return None
