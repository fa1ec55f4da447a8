"""Telegram ``Update`` objects → neutral events.

Message ids are only unique within a chat, so a message's provider id is ``"<chat id>:<message
id>"`` (the same form :class:`TelegramChannel.send` returns, so replies to our own messages
resolve). An edit gets its own id (``"…:edited:<edit_date>"``) and ``extra={"edited": True}``: it
must not be deduplicated against the original. A callback button press becomes
``Reply(payload=callback_data)`` with provider id ``"cbq:<callback query id>"``. ``sender_id`` is
the chat id: the chat is where the answer goes (the same as the user id in private chats).

Files arrive as ``file_id``s; ``Media.url`` then holds ``provider-media://<file_id>`` (resolve it
with ``getFile``). Updates we do not handle (inline queries, polls, membership changes, channel
posts, service messages) are skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from toonbank.channels.base import InboundMessage, ParsedEvent, PayloadError
from toonbank.channels.content import ContactCard, Content, Location, Media, Reply, Text

MEDIA_SCHEME = "provider-media://"
TEXT_LIMIT = 4096
"""``Text`` holds at most 4096 characters (Telegram's own message limit)."""

FILE_KINDS: tuple[tuple[str, Literal["audio", "video", "file"]], ...] = (
    ("animation", "video"),
    ("video", "video"),
    ("video_note", "video"),
    ("voice", "audio"),
    ("audio", "audio"),
    ("document", "file"),
)
"""Message fields holding a file, in precedence order (an animation also has a document)."""


def parse_update(update: Any) -> list[ParsedEvent]:
    """The neutral events of one webhook ``Update`` (at most one)."""
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise PayloadError("body is not a Telegram Update (no integer update_id)")
    if "message" in update:
        return _message(_object(update, "message"), edited=False)
    if "edited_message" in update:
        return _message(_object(update, "edited_message"), edited=True)
    if "callback_query" in update:
        return _callback(_object(update, "callback_query"))
    return []


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise PayloadError(f"'{key}' must be an object")
    return value


def _id(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError(f"{where} has no integer '{key}'")
    return value


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def full_name(person: Any) -> str | None:
    """``"First Last"`` of a User or private Chat (a group's title otherwise)."""
    if not isinstance(person, dict):
        return None
    parts = [person.get("first_name"), person.get("last_name")]
    name = " ".join(p for p in parts if isinstance(p, str) and p)
    title = person.get("title")
    return name or (title if isinstance(title, str) and title else None)


def _message(message: dict[str, Any], *, edited: bool) -> list[ParsedEvent]:
    """A customer message (or its edit) → one InboundMessage; unsupported kinds → []."""
    chat = _object(message, "chat")
    chat_id = _id(chat, "id", "chat")
    message_id = _id(message, "message_id", "message")
    sender = message.get("from") if isinstance(message.get("from"), dict) else None
    content = _content(message)
    if content is None:
        return []
    provider_id = f"{chat_id}:{message_id}"
    extra: dict[str, Any] = {}
    moment = message.get("date")
    if edited:
        moment = message.get("edit_date", moment)
        provider_id += f":edited:{moment}"
        extra["edited"] = True
    if sender and isinstance(sender.get("username"), str):
        extra["username"] = sender["username"]
    return [
        InboundMessage(
            provider_message_id=provider_id,
            sender_id=str(chat_id),
            content=content,
            sender_name=full_name(sender) or full_name(chat),
            phone=_own_phone(message, sender),
            timestamp=_timestamp(moment),
            reply_to=_reply_to(message, chat_id),
            extra=extra,
        )
    ]


def _reply_to(message: dict[str, Any], chat_id: int) -> str | None:
    """The replied-to message's id; ``reply_to_message`` is always from the same chat."""
    reply = message.get("reply_to_message")
    if not isinstance(reply, dict) or not isinstance(reply.get("message_id"), int):
        return None
    return f"{chat_id}:{reply['message_id']}"


def _own_phone(message: dict[str, Any], sender: dict[str, Any] | None) -> str | None:
    """The sender's phone number in E.164 when they shared their *own* contact."""
    contact = message.get("contact")
    if not isinstance(contact, dict) or sender is None or "user_id" not in contact:
        return None
    if contact.get("user_id") != sender.get("id"):
        return None
    digits = "".join(ch for ch in str(contact.get("phone_number", "")) if ch.isdigit())
    return f"+{digits}" if digits else None


def _file(message: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = message.get(key)
    if isinstance(value, dict) and isinstance(value.get("file_id"), str):
        return value
    return None


def _largest_photo(sizes: Any) -> dict[str, Any] | None:
    """The biggest PhotoSize (by pixels, then bytes)."""
    if not isinstance(sizes, list):
        return None
    valid = [s for s in sizes if isinstance(s, dict) and isinstance(s.get("file_id"), str)]
    if not valid:
        return None
    return max(
        valid,
        key=lambda s: (int(s.get("width", 0)) * int(s.get("height", 0)), s.get("file_size", 0)),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _media(message: dict[str, Any]) -> Media | None:
    """Photo, animation, video, video note, voice, audio or document → Media."""
    caption = _str(message.get("caption"))
    photo = _largest_photo(message.get("photo"))
    if photo is not None:
        return Media(kind="image", url=MEDIA_SCHEME + photo["file_id"], caption=caption)
    for key, kind in FILE_KINDS:
        item = _file(message, key)
        if item is not None:
            return Media(
                kind=kind,
                url=MEDIA_SCHEME + item["file_id"],
                caption=caption,
                filename=_str(item.get("file_name")),
                mime_type=_str(item.get("mime_type")),
            )
    return None


def _place(message: dict[str, Any]) -> Location | None:
    """Venue (named place) or location pin → Location."""
    venue = message.get("venue")
    if isinstance(venue, dict) and isinstance(venue.get("location"), dict):
        point = venue["location"]
        return Location(
            latitude=point["latitude"],
            longitude=point["longitude"],
            name=_str(venue.get("title")),
            address=_str(venue.get("address")),
        )
    point = message.get("location")
    if isinstance(point, dict):
        return Location(latitude=point["latitude"], longitude=point["longitude"])
    return None


def _contact(message: dict[str, Any]) -> ContactCard | None:
    contact = message.get("contact")
    if not isinstance(contact, dict):
        return None
    name = full_name(contact) or str(contact.get("phone_number", "")) or "Contact"
    phone = _str(contact.get("phone_number"))
    return ContactCard(name=name, phones=[phone] if phone else [])


def _content(message: dict[str, Any]) -> Content | None:
    """The neutral content of a message, or None for kinds we do not handle."""
    try:
        text = _str(message.get("text"))
        if text is not None:
            return Text(text=text[:TEXT_LIMIT])
        found: Content | None = _media(message) or _place(message) or _contact(message)
        if found is not None:
            return found
        sticker = message.get("sticker")
        if isinstance(sticker, dict) and _str(sticker.get("emoji")):
            return Text(text=sticker["emoji"])
    except (KeyError, TypeError, ValidationError) as exc:
        raise PayloadError(f"unreadable message content: {type(exc).__name__}") from None
    return None


def _button_title(message: Any, data: str) -> str | None:
    """The text of the inline button that carried ``data`` in the message it was attached to."""
    if not isinstance(message, dict):
        return None
    markup = message.get("reply_markup")
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == data:
                return _str(button.get("text"))
    return None


def _callback(query: dict[str, Any]) -> list[ParsedEvent]:
    """An inline button press → ``Reply``; queries without data (games) are skipped."""
    query_id = query.get("id")
    if not isinstance(query_id, str) or not query_id:
        raise PayloadError("callback_query has no id")
    data = _str(query.get("data"))
    if data is None:
        return []
    sender = _object(query, "from")
    message = query.get("message")
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if not isinstance(chat_id, int):
        chat_id = _id(sender, "id", "callback_query.from")
    reply_to = None
    if isinstance(message, dict) and isinstance(message.get("message_id"), int):
        reply_to = f"{chat_id}:{message['message_id']}"
    return [
        InboundMessage(
            provider_message_id=f"cbq:{query_id}",
            sender_id=str(chat_id),
            content=Reply(payload=data[:256], title=_button_title(message, data)),
            sender_name=full_name(sender),
            reply_to=reply_to,
            extra={"callback_query_id": query_id},
        )
    ]
