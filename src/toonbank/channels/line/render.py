"""Neutral content → LINE message objects (one push carries up to five).

* Text → ``text`` (≤ 5000 characters).
* Image → ``image`` (``originalContentUrl`` = ``previewImageUrl``, HTTPS only) followed by a
  ``text`` with the caption. LINE images have no caption, and video/audio messages need a preview
  image / a duration we do not have, so only images are native; the rest arrives as links.
* Location → ``location`` (title and address are required: the name, address or coordinates).
* Quick replies → ``text`` with ``quickReply.items`` of postback actions (≤ 13).
* List picker → the same when it has ≤ 13 options (descriptions in the text), else numbered text.
* Product card / carousel → a Flex Message (see :mod:`toonbank.channels.line.flex`), preceded by
  the card's text.

Whatever cannot be shown natively (a non-HTTPS image, a long list) becomes the text any channel
without that ability gets from :func:`toonbank.channels.render.degrade`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import (
    Content,
    ListPicker,
    Location,
    Media,
    Option,
    ProductCard,
    ProductCarousel,
    QuickReplies,
    Text,
)
from toonbank.channels.line.flex import flex_message, postback
from toonbank.channels.render import degrade

MAX_QUICK_REPLIES = 13
TEXT_LIMIT = 5000
LOCATION_FIELD_LIMIT = 100
MESSAGES_PER_PUSH = 5


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def quick_reply(options: list[Option]) -> dict[str, Any]:
    """``quickReply`` with one postback button per option."""
    return {"items": [{"type": "action", "action": postback(option)} for option in options]}


def _list_text(content: ListPicker) -> str:
    """The list's text plus option descriptions, which quick-reply buttons cannot show."""
    lines = [content.text]
    lines += [f"• {o.title} — {o.description}" for o in content.options() if o.description]
    text = "\n".join(lines)
    return text if len(text) <= TEXT_LIMIT else content.text


def _cut(value: str) -> str:
    return value if len(value) <= LOCATION_FIELD_LIMIT else value[: LOCATION_FIELD_LIMIT - 1] + "…"


def _location(content: Location) -> dict[str, Any]:
    coordinates = f"{content.latitude:.6f}, {content.longitude:.6f}"
    return {
        "type": "location",
        "title": _cut(content.name or content.address or coordinates),
        "address": _cut(content.address or coordinates),
        "latitude": content.latitude,
        "longitude": content.longitude,
    }


def _plain(content: Content, caps: Capabilities) -> list[dict[str, Any]]:
    """The degraded text of content shown as if the channel lacked images and lists."""
    plain = dataclasses.replace(caps, media=frozenset(), list_picker=False, max_buttons=0)
    return [_text(p.text) for p in degrade(content, plain) if isinstance(p, Text)]


def messages(content: Content, caps: Capabilities) -> list[dict[str, Any]]:
    """The LINE message objects for one content item (may exceed five: push them in chunks)."""
    match content:
        case Text(text=text):
            return [_text(text)]
        case Media(kind="image", url=url, caption=caption) if url.startswith("https://"):
            image = {"type": "image", "originalContentUrl": url, "previewImageUrl": url}
            return [image, _text(caption)] if caption else [image]
        case Location():
            return [_location(content)]
        case QuickReplies(text=text, options=options):
            return [{**_text(text), "quickReply": quick_reply(list(options))}]
        case ListPicker() if len(content.options()) <= MAX_QUICK_REPLIES:
            return [{**_text(_list_text(content)), "quickReply": quick_reply(content.options())}]
        case ProductCard(product=product, text=text):
            return ([_text(text)] if text else []) + [flex_message([product], text)]
        case ProductCarousel(products=products, text=text):
            return ([_text(text)] if text else []) + [flex_message(list(products), text)]
    return _plain(content, caps)


def chunks(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Groups of at most five messages (LINE's limit per push)."""
    return [items[i : i + MESSAGES_PER_PUSH] for i in range(0, len(items), MESSAGES_PER_PUSH)]
