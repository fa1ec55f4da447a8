"""Neutral content → WhatsApp Cloud API ``POST /{phone_number_id}/messages`` bodies.

Every body is ``{"messaging_product": "whatsapp", "recipient_type": "individual", "to": <wa_id>,
"type": <t>, <t>: {...}}`` (a business-scoped user id such as ``US.1349…`` goes in
``"recipient"`` instead of ``"to"``). One content item normally becomes one body.

Products: the capabilities declare ``product_card`` and ``carousel`` native because a connection
with a ``catalog_id`` shows them as WhatsApp catalog messages (single-product ``product`` and
multi-product ``product_list``; ``Product.id`` must be the item's retailer id in that Meta
catalog, and the customer's cart comes back as an ``order`` message). Capabilities are static per
channel type, so a connection *without* a catalog renders the same content through
:func:`toonbank.channels.render.degrade` with products switched off: an image with the card as
caption (numbered buttons included), or a text list. Content that exceeds WhatsApp's limits
(more than 3 buttons, more than 10 list rows, a row id over 200 characters) takes the same
fallback path, so the numbered text still maps answers back to the options.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import (
    ContactCard,
    Content,
    ListPicker,
    Location,
    Media,
    Option,
    Product,
    ProductCard,
    ProductCarousel,
    QuickReplies,
    Template,
    Text,
)
from toonbank.channels.render import degrade, format_money
from toonbank.channels.whatsapp.graph import media_id_of

Body = dict[str, Any]

CAPABILITIES = Capabilities(
    media=frozenset({"image", "audio", "video", "file"}),
    location=True,
    contact_card=True,
    max_buttons=3,
    list_picker=True,
    product_card=True,
    carousel=True,
    order_summary=False,
    payment_link=False,
    template=True,
    markdown_links=False,
    max_text_length=4096,
)
"""What WhatsApp shows natively (products: see the module docstring)."""

FALLBACK = dataclasses.replace(CAPABILITIES, list_picker=False, product_card=False, carousel=False)
"""What every connection can show, catalog or not: the target of in-adapter degradation."""

MAX_BUTTONS = 3
BUTTON_TITLE = 20
MAX_ROWS = 10
ROW_ID = 200
ROW_TITLE = 24
ROW_DESCRIPTION = 72
SECTION_TITLE = 24
HEADER_TEXT = 60
BODY_TEXT = 1024
MAX_PRODUCTS = 30

_BSUID = re.compile(r"^[A-Z]{2}\.[A-Z0-9.]+$")
"""Business-scoped user ids (``US.13491208655302741918``) are sent as ``recipient``."""
_URL = re.compile(r"https?://", re.IGNORECASE)
_ELLIPSIS = "\u2026"


def request_bodies(recipient: str, content: Content, *, catalog_id: str | None) -> list[Body]:
    """The request bodies that show ``content``, in sending order (one, except for fallbacks)."""
    key = "recipient" if _BSUID.match(recipient) else "to"
    envelope: Body = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    envelope[key] = recipient
    return [{**envelope, **message} for message in _messages(content, catalog_id)]


def _messages(content: Content, catalog_id: str | None) -> list[Body]:
    """``{"type": t, t: {...}}`` parts for one content item."""
    match content:
        case Text():
            return [_text(content.text)]
        case Media():
            return _media(content)
        case Location():
            return [_location(content)]
        case ContactCard():
            return [_contacts(content)]
        case QuickReplies() if len(content.options) <= MAX_BUTTONS:
            return [_buttons(content)]
        case ListPicker() if _fits_list(content):
            return [_list(content)]
        case ProductCard() if catalog_id:
            return [_product(content, catalog_id)]
        case ProductCarousel() if catalog_id and len(content.products) <= MAX_PRODUCTS:
            return [_product_list(content, catalog_id)]
        case Template():
            return [_template(content)]
    return [part for item in degrade(content, FALLBACK) for part in _messages(item, None)]


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` chars at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:-") + _ELLIPSIS


def _unique_titles(options: list[Option], limit: int) -> list[str]:
    """Clipped titles, made unique (WhatsApp rejects two buttons/rows with the same title)."""
    titles: list[str] = []
    for number, option in enumerate(options, 1):
        title = clip(option.title, limit)
        if title in titles:
            suffix = f" {number}"
            title = clip(option.title, limit - len(suffix)) + suffix
        titles.append(title)
    return titles


# --------------------------------------------------------------------------------------------
# Plain message types
# --------------------------------------------------------------------------------------------


def _text(text: str) -> Body:
    """Text; link previews are on when the text contains a URL."""
    return {"type": "text", "text": {"body": text, "preview_url": bool(_URL.search(text))}}


def _media(content: Media) -> list[Body]:
    """Media by link (or by id for ``provider-media://`` references); file → document.

    Audio has no caption on WhatsApp, so an audio caption follows as a text message.
    """
    kind = "document" if content.kind == "file" else content.kind
    media_id = media_id_of(content.url)
    body: Body = {"id": media_id} if media_id else {"link": content.url}
    if content.caption and kind != "audio":
        body["caption"] = content.caption
    if content.filename and kind == "document":
        body["filename"] = content.filename
    parts = [{"type": kind, kind: body}]
    if content.caption and kind == "audio":
        parts.append(_text(content.caption))
    return parts


def _location(content: Location) -> Body:
    location: Body = {"latitude": content.latitude, "longitude": content.longitude}
    if content.name:
        location["name"] = content.name
    if content.address:
        location["address"] = content.address
    return {"type": "location", "location": location}


def _contacts(content: ContactCard) -> Body:
    """One contact card; WhatsApp wants ``formatted_name`` plus a first (and last) name."""
    first, _, last = content.name.strip().partition(" ")
    name: Body = {"formatted_name": content.name, "first_name": first or content.name}
    if last.strip():
        name["last_name"] = last.strip()
    card: Body = {"name": name}
    if content.phones:
        card["phones"] = [{"phone": phone} for phone in content.phones]
    if content.emails:
        card["emails"] = [{"email": email} for email in content.emails]
    return {"type": "contacts", "contacts": [card]}


def _template(content: Template) -> Body:
    """An approved template: body parameters from ``variables``, quick-reply button payloads."""
    template: Body = {
        "name": content.name,
        "language": {"policy": "deterministic", "code": content.language.replace("-", "_")},
    }
    components: list[Body] = []
    if content.variables:
        parameters = [{"type": "text", "text": value} for value in content.variables]
        components.append({"type": "body", "parameters": parameters})
    for index, button in enumerate(content.buttons):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": button.payload}],
            }
        )
    if components:
        template["components"] = components
    return {"type": "template", "template": template}


# --------------------------------------------------------------------------------------------
# Interactive messages
# --------------------------------------------------------------------------------------------


def _interactive(interactive: Body) -> Body:
    return {"type": "interactive", "interactive": interactive}


def _buttons(content: QuickReplies) -> Body:
    """Up to three reply buttons (titles ≤ 20 chars; the id is the option's payload)."""
    titles = _unique_titles(list(content.options), BUTTON_TITLE)
    buttons = [
        {"type": "reply", "reply": {"id": option.payload, "title": title}}
        for option, title in zip(content.options, titles, strict=True)
    ]
    return _interactive(
        {"type": "button", "body": {"text": content.text}, "action": {"buttons": buttons}}
    )


def _fits_list(content: ListPicker) -> bool:
    """At most 10 rows over all sections, and every row id within 200 chars."""
    options = content.options()
    return len(options) <= MAX_ROWS and all(len(o.payload) <= ROW_ID for o in options)


def _list(content: ListPicker) -> Body:
    """A list message; titles are required on sections when there is more than one."""
    titles = iter(_unique_titles(content.options(), ROW_TITLE))
    sections: list[Body] = []
    for section in content.sections:
        rows: list[Body] = []
        for option in section.options:
            row: Body = {"id": option.payload, "title": next(titles)}
            if option.description:
                row["description"] = clip(option.description, ROW_DESCRIPTION)
            rows.append(row)
        entry: Body = {"rows": rows}
        heading = section.title or (content.button if len(content.sections) > 1 else None)
        if heading:
            entry = {"title": clip(heading, SECTION_TITLE), **entry}
        sections.append(entry)
    action = {"button": clip(content.button, BUTTON_TITLE), "sections": sections}
    return _interactive({"type": "list", "body": {"text": content.text}, "action": action})


def _product(content: ProductCard, catalog_id: str) -> Body:
    """A single-product message from the connection's catalog."""
    interactive: Body = {"type": "product"}
    if content.text:
        interactive["body"] = {"text": content.text}
    interactive["action"] = {"catalog_id": catalog_id, "product_retailer_id": content.product.id}
    return _interactive(interactive)


def _price_line(product: Product) -> str:
    """``"Linen blazer — €129.50"`` (just the title without a price)."""
    if product.price is None or not product.currency:
        return product.title
    return f"{product.title} — {format_money(product.price, product.currency)}"


def _product_list(content: ProductCarousel, catalog_id: str) -> Body:
    """A multi-product message: header and body are required, so both are always filled."""
    prices = "\n".join(_price_line(product) for product in content.products)
    text = content.text or ""
    if text and len(" ".join(text.split())) <= HEADER_TEXT:
        header, body = text, prices
    else:
        header = clip(", ".join(p.title for p in content.products), HEADER_TEXT)
        body = f"{text}\n\n{prices}" if text else prices
    if len(body) > BODY_TEXT:  # the text alone always fits (ProductCarousel.text ≤ 1024)
        body = text or prices[: BODY_TEXT - 1].rstrip() + _ELLIPSIS
    section = {
        "title": clip(header, SECTION_TITLE),
        "product_items": [{"product_retailer_id": p.id} for p in content.products],
    }
    return _interactive(
        {
            "type": "product_list",
            "header": {"type": "text", "text": " ".join(header.split())},
            "body": {"text": body},
            "action": {"catalog_id": catalog_id, "sections": [section]},
        }
    )
