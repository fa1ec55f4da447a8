"""Neutral content → Viber ``send_message`` bodies (without receiver and sender).

* Text → ``text`` (≤ 7000 characters).
* Image → ``picture`` with the caption as its ``text`` (≤ 512 characters; a longer caption
  follows as its own text message). Video and file messages require the file ``size``, which we
  do not know without downloading it, so only images are native; the rest arrives as links.
* Location → ``location`` (a pin has no name: a name or address goes first as a text message).
* Contact card → ``contact`` when it is one phone number and nothing else (Viber's contact holds
  a name ≤ 28 characters and one number ≤ 18); richer cards go as text.
* Quick replies → ``text`` with a ``keyboard`` of ``reply`` buttons. A reply button sends its
  ``ActionBody`` as the customer's message, shown in the chat: it is the option's title (what the
  customer chose, readable) unless titles repeat, then the payload. ``tracking_data`` maps action
  bodies back to payload and title (see :mod:`toonbank.channels.viber.parse`).
"""

from __future__ import annotations

import json
from typing import Any

from toonbank.channels.content import (
    ContactCard,
    Content,
    Location,
    Media,
    Option,
    QuickReplies,
    Text,
)
from toonbank.channels.viber.parse import TRACKING_KEY

CAPTION_LIMIT = 512
TRACKING_LIMIT = 4000
CONTACT_NAME_LIMIT = 28
CONTACT_PHONE_LIMIT = 18
SHORT_TITLE = 14
"""Titles up to this length share a keyboard row (two buttons of three columns)."""

Body = dict[str, Any]


def _text(text: str) -> Body:
    return {"type": "text", "text": text}


def _action_bodies(options: list[Option]) -> list[str]:
    """Titles when they tell the options apart (case-insensitively), else payloads."""
    titles = [option.title for option in options]
    if len({title.casefold() for title in titles}) == len(titles):
        return titles
    return [option.payload for option in options]


def keyboard(options: list[Option], bodies: list[str]) -> Body:
    """A custom keyboard with one reply button per option."""
    columns = 3 if max(len(o.title) for o in options) <= SHORT_TITLE else 6
    return {
        "Type": "keyboard",
        "DefaultHeight": False,
        "Buttons": [
            {
                "ActionType": "reply",
                "ActionBody": body,
                "Text": option.title,
                "TextSize": "regular",
                "Columns": columns,
            }
            for option, body in zip(options, bodies, strict=True)
        ],
    }


def tracking_data(options: list[Option], bodies: list[str]) -> str | None:
    """``{"tb_options": {action body: [payload, title]}}`` within Viber's 4000 characters."""
    mapping = {body: [o.payload, o.title] for o, body in zip(options, bodies, strict=True)}
    encoded = json.dumps({TRACKING_KEY: mapping}, ensure_ascii=False, separators=(",", ":"))
    if len(encoded) <= TRACKING_LIMIT:
        return encoded
    mapping = {body: [o.payload, ""] for o, body in zip(options, bodies, strict=True)}
    encoded = json.dumps({TRACKING_KEY: mapping}, ensure_ascii=False, separators=(",", ":"))
    return encoded if len(encoded) <= TRACKING_LIMIT else None


def _quick_replies(content: QuickReplies) -> list[Body]:
    options = list(content.options)
    bodies = _action_bodies(options)
    body = {**_text(content.text), "keyboard": keyboard(options, bodies)}
    tracking = tracking_data(options, bodies)
    if tracking:
        body["tracking_data"] = tracking
    return [body]


def _picture(content: Media) -> list[Body]:
    caption = content.caption or ""
    if len(caption) <= CAPTION_LIMIT:
        return [{"type": "picture", "media": content.url, "text": caption}]
    return [{"type": "picture", "media": content.url, "text": ""}, _text(caption)]


def _location(content: Location) -> list[Body]:
    pin = {"type": "location", "location": {"lat": content.latitude, "lon": content.longitude}}
    label = ", ".join(part for part in (content.name, content.address) if part)
    return [_text(label), pin] if label else [pin]


def _contact(content: ContactCard) -> list[Body] | None:
    if len(content.phones) != 1 or content.emails:
        return None
    phone = content.phones[0]
    if len(content.name) > CONTACT_NAME_LIMIT or len(phone) > CONTACT_PHONE_LIMIT:
        return None
    return [{"type": "contact", "contact": {"name": content.name, "phone_number": phone}}]


def render(content: Content) -> list[Body] | None:
    """The messages for ``content`` in order, or None when Viber cannot show it natively."""
    match content:
        case Text(text=text):
            return [_text(text)]
        case QuickReplies():
            return _quick_replies(content)
        case Media(kind="image"):
            return _picture(content)
        case Location():
            return _location(content)
        case ContactCard():
            return _contact(content)
    return None
