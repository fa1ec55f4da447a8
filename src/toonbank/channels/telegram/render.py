"""Neutral content → one Bot API call (method name and JSON body).

Buttons are inline keyboards (``reply_markup.inline_keyboard``). A button's ``callback_data`` may
hold at most 64 bytes, so an option payload that does not fit is sent as ``"h:" + the first 32 hex
digits of its SHA-256`` (:func:`callback_data`): the answer then carries that hash, not the payload.
:func:`toonbank.channels.telegram.parse` cannot undo the hash; whoever resolves the answer against
the offered options must compare ``callback_data(option.payload)`` with it. The button's title is
recovered from the message the button belongs to.

List pickers are inline keyboards too: one option per row, section titles and option descriptions
written into the message text (an inline keyboard has neither).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from typing import Any
from urllib.parse import urlsplit

from toonbank.channels.content import (
    ContactCard,
    Content,
    ListPicker,
    Location,
    Media,
    Option,
    QuickReplies,
    Text,
)

CALLBACK_DATA_LIMIT = 64
"""Telegram's maximum ``callback_data`` size in bytes."""

MEDIA_METHODS: dict[str, tuple[str, str]] = {
    "image": ("sendPhoto", "photo"),
    "video": ("sendVideo", "video"),
    "audio": ("sendAudio", "audio"),
    "file": ("sendDocument", "document"),
}

DOCUMENT_URL_TYPES = frozenset({"application/pdf", "application/zip", "image/gif"})
"""``sendDocument`` by URL "will currently only work for GIF, PDF and ZIP files" (Bot API)."""

TEXT_LIMIT = 4096
"""Maximum ``sendMessage`` text length."""

VCARD_LIMIT = 2048
"""Maximum vCard size of ``sendContact`` in bytes."""

Call = tuple[str, dict[str, Any]]


def callback_data(payload: str) -> str:
    """The ``callback_data`` for an option payload: itself when ≤ 64 bytes, else a short hash."""
    if len(payload.encode()) <= CALLBACK_DATA_LIMIT:
        return payload
    return "h:" + hashlib.sha256(payload.encode()).hexdigest()[:32]


def chat_id(recipient: str) -> int | str:
    """Numeric chat ids as integers, ``@channelusername`` as is."""
    return int(recipient) if re.fullmatch(r"-?\d+", recipient) else recipient


def _per_row(options: list[Option]) -> int:
    """Buttons per keyboard row: short titles share a row, long ones get their own."""
    longest = max(len(option.title) for option in options)
    if longest <= 10:
        return 3
    return 2 if longest <= 20 else 1


def _button(option: Option) -> dict[str, str]:
    return {"text": option.title, "callback_data": callback_data(option.payload)}


def inline_keyboard(options: list[Option], per_row: int | None = None) -> dict[str, Any]:
    """``reply_markup`` with the options as callback buttons, ``per_row`` to a row."""
    size = per_row or _per_row(options)
    rows = [
        [_button(option) for option in options[start : start + size]]
        for start in range(0, len(options), size)
    ]
    return {"inline_keyboard": rows}


def _list_text(content: ListPicker) -> str:
    """The list's text plus section headings and option descriptions (not shown on buttons)."""
    lines = [content.text]
    for section in content.sections:
        described = [o for o in section.options if o.description]
        if section.title and (described or len(content.sections) > 1):
            lines.append(f"\n{section.title}")
        lines += [f"• {o.title} — {o.description}" for o in described]
    text = "\n".join(lines)
    return text if len(text) <= TEXT_LIMIT else content.text


def _media_type(content: Media) -> str | None:
    """The MIME type of a media item: declared, else guessed from the file name or URL path."""
    if content.mime_type:
        return content.mime_type.split(";", 1)[0].strip().lower()
    for name in (content.filename, urlsplit(content.url).path):
        if name:
            guessed, _ = mimetypes.guess_type(name)
            if guessed:
                return guessed
    return None


def _media(chat: int | str, content: Media) -> Call | None:
    """``sendPhoto`` / ``sendVideo`` / ``sendAudio`` / ``sendDocument`` by URL."""
    if content.kind == "file" and _media_type(content) not in DOCUMENT_URL_TYPES:
        return None  # Telegram would refuse to fetch it: send the link as text instead
    method, field = MEDIA_METHODS[content.kind]
    body: dict[str, Any] = {"chat_id": chat, field: content.url}
    if content.caption:
        body["caption"] = content.caption
    return method, body


def _location(chat: int | str, content: Location) -> Call:
    """A venue when there is a name or address, else a bare location pin."""
    body: dict[str, Any] = {
        "chat_id": chat,
        "latitude": content.latitude,
        "longitude": content.longitude,
    }
    if not (content.name or content.address):
        return "sendLocation", body
    if content.name and content.address:
        body.update(title=content.name, address=content.address)
    else:
        label = content.name or content.address or ""
        body.update(title=label, address=f"{content.latitude:.6f}, {content.longitude:.6f}")
    return "sendVenue", body


def _vcard_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace(",", "\\,").replace(";", "\\;")


def vcard(content: ContactCard) -> str:
    """A vCard 3.0 with every phone number and e-mail address of the card."""
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_vcard_escape(content.name)}"]
    lines += [f"TEL;TYPE=CELL:{_vcard_escape(phone)}" for phone in content.phones]
    lines += [f"EMAIL:{_vcard_escape(email)}" for email in content.emails]
    lines.append("END:VCARD")
    return "\r\n".join(lines)


def _contact(chat: int | str, content: ContactCard) -> Call | None:
    """``sendContact`` (needs a phone number; the rest travels in a vCard)."""
    if not content.phones:
        return None
    body: dict[str, Any] = {
        "chat_id": chat,
        "phone_number": content.phones[0],
        "first_name": content.name,
    }
    card = vcard(content)
    if (len(content.phones) > 1 or content.emails) and len(card.encode()) <= VCARD_LIMIT:
        body["vcard"] = card
    return "sendContact", body


def render(recipient: str, content: Content) -> Call | None:
    """The Bot API call for ``content``, or None when Telegram cannot show it natively."""
    chat = chat_id(recipient)
    match content:
        case Text(text=text):
            return "sendMessage", {"chat_id": chat, "text": text}
        case QuickReplies(text=text, options=options):
            return "sendMessage", {
                "chat_id": chat,
                "text": text,
                "reply_markup": inline_keyboard(list(options)),
            }
        case ListPicker():
            return "sendMessage", {
                "chat_id": chat,
                "text": _list_text(content),
                "reply_markup": inline_keyboard(content.options(), per_row=1),
            }
        case Media():
            return _media(chat, content)
        case Location():
            return _location(chat, content)
        case ContactCard():
            return _contact(chat, content)
    return None
