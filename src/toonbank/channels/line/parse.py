"""LINE webhook bodies (``{"destination", "events": [...]}``) → neutral events.

``webhookEventId`` (a ULID, identical on redelivery) is the provider message id; the LINE
message id, the reply token and ``deliveryContext.isRedelivery`` go to ``extra``. The sender is
the chat the event came from: the user for one-to-one chats, the group or multi-person room
otherwise (that is also where a push must go; the speaking user, when LINE discloses them, is
``extra["line_user_id"]``). Postbacks (quick-reply buttons, flex buttons, rich menus) become
``Reply(payload=postback.data)``. Follow, unfollow, join, leave, member, unsend, beacon, account
link and video events are skipped, as are events in ``standby`` mode (another module answers).
An empty ``events`` list is LINE's "Verify" request and parses to no events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from toonbank.channels.base import InboundMessage, ParsedEvent, PayloadError
from toonbank.channels.content import Content, Location, Media, Reply, Text

MEDIA_SCHEME = "provider-media://"
"""Media kept by LINE: ``provider-media://<message id>`` (``GET api-data.line.me/v2/bot/message/
<id>/content`` with the channel access token)."""

STICKER_URL = "https://stickershop.line-scdn.net/stickershop/v1/sticker/{id}/android/sticker.png"
"""LINE's public sticker image CDN (not part of the Messaging API; widely used)."""

TEXT_LIMIT = 4096
"""``Text`` holds 4096 characters; LINE allows 5000 (longer texts are cut, ``extra`` says so)."""

MEDIA_KINDS: dict[str, Literal["image", "video", "audio"]] = {
    "image": "image",
    "video": "video",
    "audio": "audio",
}
HANDLED = frozenset({"message", "messageEdited", "postback"})


def parse_body(data: Any) -> list[ParsedEvent]:
    """Every customer message and postback of a webhook body."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise PayloadError("body is not a LINE webhook (no 'events' list)")
    events: list[ParsedEvent] = []
    for item in data["events"]:
        if not isinstance(item, dict):
            raise PayloadError("each event must be an object")
        event = _event(item)
        if event is not None:
            events.append(event)
    return events


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _timestamp(value: Any) -> datetime | None:
    """Unix milliseconds → aware UTC."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value // 1000, UTC) + timedelta(milliseconds=value % 1000)
    except (OverflowError, OSError, ValueError):
        return None


def _chat(source: dict[str, Any]) -> str | None:
    """Where the event happened (and where to push): user, group or room id."""
    kind = source.get("type")
    if kind == "group":
        return _str(source.get("groupId"))
    if kind == "room":
        return _str(source.get("roomId"))
    return _str(source.get("userId"))


def _event(event: dict[str, Any]) -> InboundMessage | None:
    """One message / edited message / postback event → InboundMessage, others → None."""
    if event.get("type") not in HANDLED or event.get("mode") == "standby":
        return None
    raw_source = event.get("source")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    chat = _chat(source)
    event_id = _str(event.get("webhookEventId"))
    if chat is None:
        return None
    if event_id is None:
        raise PayloadError(f"{event.get('type')} event without webhookEventId")
    extra: dict[str, Any] = {}
    content = _postback(event, extra) if event["type"] == "postback" else _message(event, extra)
    if content is None:
        return None
    _context(event, source, extra)
    message = event.get("message")
    quoted = message.get("quotedMessageId") if isinstance(message, dict) else None
    return InboundMessage(
        provider_message_id=event_id,
        sender_id=chat,
        content=content,
        timestamp=_timestamp(event.get("timestamp")),
        reply_to=_str(quoted),
        extra=extra,
    )


def _context(event: dict[str, Any], source: dict[str, Any], extra: dict[str, Any]) -> None:
    """Reply token, redelivery flag, source type and the speaking user of group chats."""
    if _str(event.get("replyToken")):
        extra["reply_token"] = event["replyToken"]
    delivery = event.get("deliveryContext")
    extra["is_redelivery"] = bool(isinstance(delivery, dict) and delivery.get("isRedelivery"))
    if source.get("type") in ("group", "room"):
        extra["source_type"] = source["type"]
        if _str(source.get("userId")):
            extra["line_user_id"] = source["userId"]
    if event.get("type") == "messageEdited":
        extra["edited"] = True


def _postback(event: dict[str, Any], extra: dict[str, Any]) -> Content | None:
    postback = event.get("postback")
    if not isinstance(postback, dict) or _str(postback.get("data")) is None:
        return None
    data: str = postback["data"]
    if isinstance(postback.get("params"), dict) and postback["params"]:
        extra["postback_params"] = dict(postback["params"])
    return Reply(payload=data[:256])


def _message(event: dict[str, Any], extra: dict[str, Any]) -> Content | None:
    message = event.get("message")
    if not isinstance(message, dict):
        raise PayloadError(f"{event.get('type')} event without a message object")
    if _str(message.get("id")):
        extra["line_message_id"] = message["id"]
    try:
        return _content(message, extra)
    except (KeyError, TypeError, ValidationError) as exc:
        raise PayloadError(
            f"unreadable {message.get('type')} message: {type(exc).__name__}"
        ) from None


def _media_url(message: dict[str, Any]) -> str:
    """External content's own URL, else a reference to the content LINE keeps."""
    provider = message.get("contentProvider")
    if isinstance(provider, dict) and provider.get("type") == "external":
        url = _str(provider.get("originalContentUrl"))
        if url:
            return url
    return MEDIA_SCHEME + str(message["id"])


def _content(message: dict[str, Any], extra: dict[str, Any]) -> Content | None:
    kind = message.get("type")
    if kind == "text":
        text = _str(message.get("text"))
        if text is None:
            return None
        if len(text) > TEXT_LIMIT:
            extra["truncated"] = True
        return Text(text=text[:TEXT_LIMIT])
    if kind in MEDIA_KINDS:
        if isinstance(message.get("imageSet"), dict):
            extra["image_set"] = dict(message["imageSet"])
        return Media(kind=MEDIA_KINDS[kind], url=_media_url(message))
    if kind == "file":
        return Media(
            kind="file",
            url=MEDIA_SCHEME + str(message["id"]),
            filename=_str(message.get("fileName")),
        )
    if kind == "location":
        return Location(
            latitude=message["latitude"],
            longitude=message["longitude"],
            name=_str(message.get("title")),
            address=_str(message.get("address")),
        )
    if kind == "sticker":
        extra["sticker"] = {"package_id": message.get("packageId"), "id": message.get("stickerId")}
        return Media(
            kind="image",
            url=STICKER_URL.format(id=message["stickerId"]),
            caption=_str(message.get("text")),
            mime_type="image/png",
        )
    return None
