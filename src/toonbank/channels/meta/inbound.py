"""Parse Messenger / Instagram webhooks into neutral events.

Envelope: ``{"object": "page" | "instagram", "entry": [{"id": <page or IG account id>, "time",
"messaging": [<event>, ...]}]}``. Instagram can also deliver the same events as
``entry[].changes[] = {"field": "messages", "value": <event>}`` (the App Dashboard's test
button does). An event is ``{"sender": {"id"}, "recipient": {"id"}, "timestamp": <ms>, ...}``
with one of ``message``, ``postback``, ``delivery`` or ``read``.

What is mapped:

* ``message``: text → :class:`Text`; text with ``quick_reply.payload`` → :class:`Reply`;
  attachments image/video/audio/file → :class:`Media`, location → :class:`Location`,
  Instagram ``story_mention`` → image :class:`Media` captioned "Story mention" (``extra`` has
  ``story_mention``), shared posts / reels → image / video :class:`Media`, ``fallback`` links
  → :class:`Text`. ``reply_to.mid`` → ``reply_to``; an Instagram story reply puts
  ``reply_to.story`` in ``extra["reply_to_story"]``. A message with several parts (text and
  attachments) gives one event per part: ``mid``, ``mid#1``, ``mid#2``…
* ``postback`` (button tap) → :class:`Reply`; its id is ``postback.mid`` or, for payloads
  without one, ``postback:<sender>:<timestamp>`` (stable across Meta's retries).
* ``delivery.mids`` → one ``delivered`` receipt per mid; ``read.mid`` / ``read.mids``
  (Instagram) → ``read`` receipts.

Skipped on purpose: echoes of our own sends (``is_echo``), unsent / unsupported messages,
reactions, referrals and opt-ins without a message, ``standby`` events (another app owns the
thread), and Messenger read receipts that only carry a ``watermark`` ("everything before this
time was read"): they name no message id, so they cannot be mapped to a receipt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from pydantic import ValidationError

from toonbank.channels.base import (
    DeliveryReceipt,
    InboundMessage,
    ParsedEvent,
    PayloadError,
    ReceiptStatus,
)
from toonbank.channels.content import Content, Location, Media, Reply, Text

MEDIA_KINDS = frozenset({"image", "video", "audio", "file"})
CHANGE_FIELDS = frozenset({"messages", "messaging_postbacks", "messaging_seen"})
"""``changes[].field`` values whose ``value`` is a messaging event (comments etc. are not)."""
_MS_THRESHOLD = 100_000_000_000
"""Unix times above this are milliseconds (Meta sends ms; test payloads sometimes seconds)."""

Extra = dict[str, Any]
Part = tuple[Content, Extra]


def parse_body(body: bytes, *, expected_object: str, account_id: str | None) -> list[ParsedEvent]:
    """All events in a webhook body for the account ``account_id`` (all accounts if None)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    if data.get("object") != expected_object:
        raise PayloadError(f"expected a webhook for object '{expected_object}'")
    entries = data.get("entry")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise PayloadError("'entry' must be a list of objects")
    events: list[ParsedEvent] = []
    for entry in entries:
        if account_id is not None and str(entry.get("id")) != account_id:
            continue  # another Page / account subscribed to the same Meta app
        for item in _messaging_events(entry):
            events.extend(_event(item))
    return events


def _messaging_events(entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The messaging events of one entry, from ``messaging[]`` and ``changes[]``."""
    messaging = entry.get("messaging", [])
    changes = entry.get("changes", [])
    if not isinstance(messaging, list) or not isinstance(changes, list):
        raise PayloadError("'messaging' and 'changes' must be lists")
    for item in messaging:
        if isinstance(item, dict):
            yield item
    for change in changes:
        if isinstance(change, dict) and change.get("field") in CHANGE_FIELDS:
            value = change.get("value")
            if isinstance(value, dict):
                yield value


def _event(item: dict[str, Any]) -> list[ParsedEvent]:
    """The neutral events of one messaging event (none for kinds we skip)."""
    sender = _id(item.get("sender"))
    when = timestamp(item.get("timestamp"))
    message, postback = item.get("message"), item.get("postback")
    if isinstance(message, dict) and sender:
        return list(_message(message, sender, when, item.get("timestamp")))
    if isinstance(postback, dict) and sender:
        return _postback(postback, sender, when, item)
    delivery, read = item.get("delivery"), item.get("read")
    if isinstance(delivery, dict):
        return _receipts(delivery, "delivered", when or timestamp(delivery.get("watermark")))
    if isinstance(read, dict):
        return _receipts(read, "read", when or timestamp(read.get("watermark")))
    return []


def _message(
    message: dict[str, Any], sender: str, when: datetime | None, raw_time: Any
) -> Iterator[InboundMessage]:
    """One event per part of a customer message (echoes and unsent messages give none)."""
    if message.get("is_echo") or message.get("is_deleted") or message.get("is_unsupported"):
        return
    mid = _string(message.get("mid")) or _stable_id("message", sender, raw_time, message)
    reply_to, extra = _reply_context(message)
    for index, (content, part_extra) in enumerate(_parts(message)):
        yield InboundMessage(
            provider_message_id=(mid if index == 0 else f"{mid}#{index}")[:255],
            sender_id=sender,
            content=content,
            timestamp=when,
            reply_to=reply_to,
            extra={**extra, **part_extra},
        )


def _reply_context(message: dict[str, Any]) -> tuple[str | None, Extra]:
    """``reply_to.mid`` and, for Instagram story replies, the story in ``extra``."""
    reply = message.get("reply_to")
    if not isinstance(reply, dict):
        return None, {}
    story = reply.get("story")
    extra: Extra = {"reply_to_story": story} if isinstance(story, dict) else {}
    return _string(reply.get("mid")), extra


def _parts(message: dict[str, Any]) -> Iterator[Part]:
    """The text (or quick-reply answer) and each usable attachment of a message."""
    text = _string(message.get("text"))
    quick_reply = message.get("quick_reply")
    payload = _string(quick_reply.get("payload")) if isinstance(quick_reply, dict) else None
    if payload:
        yield Reply(payload=payload[:256], title=text[:255] if text else None), {}
    elif text:
        yield Text(text=text[:4096]), {}
    attachments = message.get("attachments", [])
    for attachment in attachments if isinstance(attachments, list) else []:
        if isinstance(attachment, dict):
            try:
                part = _attachment(attachment)
            except ValidationError:
                part = None  # e.g. a URL longer than we store: skip this part only
            if part is not None:
                yield part


def _attachment(attachment: dict[str, Any]) -> Part | None:
    """One attachment as neutral content (None for kinds without a usable URL / shape)."""
    kind = attachment.get("type")
    raw_payload = attachment.get("payload")
    payload: dict[str, Any] = raw_payload if isinstance(raw_payload, dict) else {}
    url = _string(payload.get("url"))
    title = _string(payload.get("title")) or _string(attachment.get("title"))
    caption = title[:1024] if title else None
    if kind == "location":
        return _location(payload, title)
    if not url:
        return None
    if kind in MEDIA_KINDS:
        return Media(kind=kind, url=url), {}
    if kind == "story_mention":
        return Media(kind="image", url=url, caption="Story mention"), {"story_mention": url}
    if kind in ("share", "ig_post"):
        return Media(kind="image", url=url, caption=caption), {}
    if kind in ("reel", "ig_reel"):
        return Media(kind="video", url=url, caption=caption), {}
    if kind == "fallback":
        return Text(text=f"{title}\n{url}" if title else url), {}
    return None


def _location(payload: dict[str, Any], title: str | None) -> Part | None:
    """Messenger's location attachment: ``payload.coordinates = {"lat", "long"}``."""
    coordinates = payload.get("coordinates")
    if not isinstance(coordinates, dict):
        return None
    lat, long = coordinates.get("lat"), coordinates.get("long")
    if not _is_number(lat) or not _is_number(long):
        return None
    name = title[:255] if title else None
    return Location(latitude=float(lat), longitude=float(long), name=name), {}


def _postback(
    postback: dict[str, Any], sender: str, when: datetime | None, item: dict[str, Any]
) -> list[ParsedEvent]:
    """A button tap: ``Reply(payload, title)``; without a mid the id is sender + timestamp."""
    payload = _string(postback.get("payload"))
    if not payload:
        return []
    title = _string(postback.get("title"))
    mid = _string(postback.get("mid")) or _stable_id(
        "postback", sender, item.get("timestamp"), postback
    )
    referral = postback.get("referral")
    return [
        InboundMessage(
            provider_message_id=mid[:255],
            sender_id=sender,
            content=Reply(payload=payload[:256], title=title[:255] if title else None),
            timestamp=when,
            extra={"referral": referral} if isinstance(referral, dict) else {},
        )
    ]


def _receipts(
    data: dict[str, Any], status: ReceiptStatus, when: datetime | None
) -> list[ParsedEvent]:
    """One receipt per message id named (``mids`` list or a single ``mid``)."""
    mids = data.get("mids")
    ids = [m for m in mids if isinstance(m, str) and m] if isinstance(mids, list) else []
    single = _string(data.get("mid"))
    if single and single not in ids:
        ids.append(single)
    return [DeliveryReceipt(provider_message_id=mid, status=status, timestamp=when) for mid in ids]


def timestamp(value: Any) -> datetime | None:
    """Meta's unix time (milliseconds, or seconds in some test payloads) as aware UTC."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not _is_number(value) or value < 0:
        return None
    try:
        if isinstance(value, int) and value > _MS_THRESHOLD:  # exact milliseconds
            return datetime.fromtimestamp(value // 1000, UTC) + timedelta(milliseconds=value % 1000)
        return datetime.fromtimestamp(value / 1000 if value > _MS_THRESHOLD else value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _stable_id(kind: str, sender: str, raw_time: Any, data: dict[str, Any]) -> str:
    """A deduplication key for events without a mid that is the same on every retry."""
    if isinstance(raw_time, int | str) and not isinstance(raw_time, bool) and str(raw_time):
        return f"{kind}:{sender}:{raw_time}"
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
    return f"{kind}:{sender}:{digest}"


def _id(value: Any) -> str | None:
    """``{"id": ...}`` → the id as a string."""
    if not isinstance(value, dict):
        return None
    raw = value.get("id")
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return _string(raw)


def _string(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _is_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number (booleans are not)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
