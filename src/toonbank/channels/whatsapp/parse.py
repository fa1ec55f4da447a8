"""WhatsApp Cloud API webhook bodies → neutral events.

Envelope: ``{"object": "whatsapp_business_account", "entry": [{"id", "changes": [{"field":
"messages", "value": {"metadata": {"phone_number_id"}, "contacts": [...], "messages": [...],
"statuses": [...]}}]}]}``. Meta batches up to 1000 updates per POST, so every level is a list.
Only changes for the connection's own ``phone_number_id`` are read (one Meta app has one callback
URL, so several numbers can share it). Message types we cannot represent (reaction, system,
unsupported, flows, ...) and other webhook fields are skipped, not rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
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
from toonbank.channels.render import PHRASES, currency_exponent, format_money
from toonbank.channels.whatsapp.graph import MEDIA_SCHEME

Json = dict[str, Any]
MediaKind = Literal["image", "audio", "video", "file"]

MEDIA_KINDS: dict[str, MediaKind] = {
    "image": "image",
    "sticker": "image",
    "video": "video",
    "audio": "audio",
    "document": "file",
}
"""WhatsApp media message types → ``Media.kind``."""

STATUSES: dict[str, ReceiptStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",  # a voice message was played: the strongest "seen" signal there is
    "failed": "failed",
}

_TIMES = "\u00d7"
_MALFORMED = (ValidationError, TypeError, ValueError, KeyError, AttributeError, InvalidOperation)
"""What building content from a malformed message object raises."""


def parse_webhook(body: bytes, phone_number_id: str | None = None) -> list[ParsedEvent]:
    """All messages and statuses in a webhook body, in order (raises :class:`PayloadError`)."""
    events: list[ParsedEvent] = []
    for value in _values(_load(body), phone_number_id):
        contacts = _objects(value, "contacts")
        for message in _objects(value, "messages"):
            events.extend(_messages(message, contacts))
        for status in _objects(value, "statuses"):
            receipt = _receipt(status)
            if receipt is not None:
                events.append(receipt)
    return events


# --------------------------------------------------------------------------------------------
# Envelope
# --------------------------------------------------------------------------------------------


def _load(body: bytes) -> Json:
    """The decoded envelope; PayloadError unless it is a WhatsApp Business Account webhook."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("body is not valid JSON") from None
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise PayloadError("not a WhatsApp webhook (object must be 'whatsapp_business_account')")
    if not isinstance(data.get("entry"), list):
        raise PayloadError("WhatsApp webhook without an 'entry' list")
    return data


def _objects(data: Json, key: str) -> list[Json]:
    """``data[key]`` as a list of objects (missing → []; anything else → PayloadError)."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PayloadError(f"'{key}' must be a list of objects")
    return value


def _values(data: Json, phone_number_id: str | None) -> Iterator[Json]:
    """The ``value`` of every ``messages`` change addressed to this phone number."""
    for entry in _objects(data, "entry"):
        for change in _objects(entry, "changes"):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            metadata = value.get("metadata")
            target = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if phone_number_id and target and str(target) != str(phone_number_id):
                continue
            yield value


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _messages(message: Json, contacts: list[Json]) -> list[InboundMessage]:
    """One message → its events (a shared contacts message yields one event per card)."""
    msg_id, sender = message.get("id"), message.get("from")
    if not isinstance(msg_id, str) or not msg_id or not isinstance(sender, str) or not sender:
        raise PayloadError("each WhatsApp message needs string 'id' and 'from'")
    context = _dict(message.get("context"))
    try:
        contents = _contents(message)
        extra = _extra(message, context) if contents else {}
    except _MALFORMED as exc:
        raise PayloadError(f"invalid {message.get('type')} message: {exc}") from None
    contact = _contact(contacts, sender)
    reply_to = context.get("id") if isinstance(context.get("id"), str) else None
    common: Json = {
        "sender_id": sender,
        "sender_name": _profile_name(contact),
        "phone": _phone(sender, contact),
        "timestamp": _timestamp(message.get("timestamp")),
        "reply_to": reply_to,
        "extra": extra,
    }
    return [
        InboundMessage(
            provider_message_id=msg_id if index == 0 else f"{msg_id}#{index}",
            content=content,
            **common,
        )
        for index, content in enumerate(contents)
    ]


def _contents(message: Json) -> list[Content]:
    """The neutral content(s) of one message; [] for types we skip."""
    kind = message.get("type")
    if not isinstance(kind, str):
        return []
    body = message.get(kind)
    if kind in MEDIA_KINDS and isinstance(body, dict):
        return [_media(MEDIA_KINDS[kind], body)]
    parser = _PARSERS.get(kind)
    if parser is None or not isinstance(body, dict | list):
        return []
    return parser(body)


def _text(body: Any) -> list[Content]:
    text = body.get("body")
    return [Text(text=_clip(text, 4096))] if isinstance(text, str) and text.strip() else []


def _media(kind: MediaKind, body: Json) -> Media:
    """Media by id (``provider-media://<id>``), or by an inline URL when no id is given."""
    media_id, inline = body.get("id"), body.get("url")
    url = f"{MEDIA_SCHEME}{media_id}" if media_id else inline
    if not isinstance(url, str) or not url:
        raise ValueError("media without id or url")
    return Media(
        kind=kind,
        url=url,
        caption=_clip(body.get("caption"), 1024) or None,
        filename=_clip(body.get("filename"), 255) or None,
        mime_type=_clip(body.get("mime_type"), 127) or None,
    )


def _location(body: Any) -> list[Content]:
    return [
        Location(
            latitude=float(body["latitude"]),
            longitude=float(body["longitude"]),
            name=_clip(body.get("name"), 255) or None,
            address=_clip(body.get("address"), 512) or None,
        )
    ]


def _contact_cards(body: Any) -> list[Content]:
    """Shared contacts (a list of vCard-like objects) → one card each."""
    cards: list[Content] = []
    for card in body if isinstance(body, list) else []:
        if not isinstance(card, dict):
            continue
        name = _dict(card.get("name"))
        full = name.get("formatted_name") or " ".join(
            part for part in (name.get("first_name"), name.get("last_name")) if part
        )
        phones = [p.get("phone") or p.get("wa_id") for p in _dicts(card.get("phones"))]
        emails = [e.get("email") for e in _dicts(card.get("emails"))]
        cards.append(
            ContactCard(
                name=_clip(full, 255) or "?",
                phones=[p for p in phones if isinstance(p, str) and p][:10],
                emails=[e for e in emails if isinstance(e, str) and e][:10],
            )
        )
    return cards


def _interactive(body: Any) -> list[Content]:
    """Taps on interactive reply buttons and list rows."""
    kind = body.get("type")
    answer = body.get(kind) if kind in ("button_reply", "list_reply") else None
    if not isinstance(answer, dict) or not answer.get("id"):
        return []
    return [Reply(payload=str(answer["id"]), title=_clip(answer.get("title"), 255) or None)]


def _template_button(body: Any) -> list[Content]:
    """A quick-reply button of a template message (``type: button``, not ``interactive``)."""
    payload = body.get("payload") or body.get("text")
    if not payload:
        return []
    return [Reply(payload=str(payload), title=_clip(body.get("text"), 255) or None)]


def _order(body: Any) -> list[Content]:
    """A cart sent from the catalog → a readable summary (the items go to ``extra``)."""
    items = order_items(body)
    lines = [body["text"]] if isinstance(body.get("text"), str) and body["text"].strip() else []
    lines.append(PHRASES["en"]["order"])
    for item in items:
        line = item["quantity"] * item["item_price"]
        money = format_money(line, item["currency"])
        lines.append(f"{item['quantity']} {_TIMES} {item['product_retailer_id']} — {money}")
    currencies = {item["currency"] for item in items}
    if len(currencies) == 1:
        total = sum(item["quantity"] * item["item_price"] for item in items)
        lines.append(f"{PHRASES['en']['total']}: {format_money(total, currencies.pop())}")
    return [Text(text=_clip("\n".join(lines), 4096))]


_PARSERS: dict[str, Callable[[Any], list[Content]]] = {
    "text": _text,
    "location": _location,
    "contacts": _contact_cards,
    "interactive": _interactive,
    "button": _template_button,
    "order": _order,
}


# --------------------------------------------------------------------------------------------
# Orders, extras, sender
# --------------------------------------------------------------------------------------------


def minor_units(price: Any, currency: str) -> int:
    """A decimal price (``35``, ``12.5``, ``"12.50"``) in integer minor units, via Decimal."""
    if isinstance(price, bool) or not isinstance(price, int | float | str):
        raise ValueError(f"invalid price {price!r}")
    amount = Decimal(str(price)).scaleb(currency_exponent(currency))
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def order_items(order: Json) -> list[Json]:
    """``product_items`` with prices in minor units: product_retailer_id, quantity, price, ccy."""
    items = []
    for item in _dicts(order.get("product_items")):
        currency = str(item["currency"]).upper()
        items.append(
            {
                "product_retailer_id": str(item["product_retailer_id"]),
                "quantity": int(item["quantity"]),
                "item_price": minor_units(item["item_price"], currency),
                "currency": currency,
            }
        )
    if not items:
        raise ValueError("order without product_items")
    return items


def _extra(message: Json, context: Json) -> Json:
    """Order details, the click-to-WhatsApp ad referral and a referred catalog product."""
    extra: Json = {}
    order = message.get("order")
    if message.get("type") == "order" and isinstance(order, dict):
        extra["order"] = {"catalog_id": order.get("catalog_id"), "items": order_items(order)}
        if isinstance(order.get("text"), str) and order["text"].strip():
            extra["order"]["text"] = order["text"]
    if isinstance(message.get("referral"), dict):
        extra["referral"] = message["referral"]
    if isinstance(context.get("referred_product"), dict):
        extra["referred_product"] = context["referred_product"]
    return extra


def _contact(contacts: list[Json], sender: str) -> Json:
    """The ``contacts[]`` entry of the sender (by wa_id or business-scoped user id)."""
    for contact in contacts:
        if sender in (contact.get("wa_id"), contact.get("user_id")):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _profile_name(contact: Json) -> str | None:
    profile = contact.get("profile")
    name = profile.get("name") if isinstance(profile, dict) else None
    return _clip(name, 255) or None


def _phone(sender: str, contact: Json) -> str | None:
    """E.164 of the sender: ``from`` is the wa_id (a phone number) unless it is a BSUID."""
    for candidate in (sender, contact.get("wa_id")):
        if isinstance(candidate, str) and candidate.isascii() and candidate.isdigit():
            return f"+{candidate}"
    return None


# --------------------------------------------------------------------------------------------
# Statuses and small helpers
# --------------------------------------------------------------------------------------------


def _receipt(status: Json) -> DeliveryReceipt | None:
    """A status update → receipt (``played`` counts as read; unknown statuses are skipped)."""
    state, msg_id = STATUSES.get(str(status.get("status"))), status.get("id")
    if state is None or not isinstance(msg_id, str) or not msg_id:
        return None
    errors = _dicts(status.get("errors"))
    error = errors[0] if errors else {}
    return DeliveryReceipt(
        provider_message_id=msg_id,
        status=state,
        timestamp=_timestamp(status.get("timestamp")),
        error_code=str(error["code"]) if error.get("code") is not None else None,
        error_detail=_error_detail(error),
    )


def _error_detail(error: Json) -> str | None:
    """``message: details`` (or the title) of a webhook error object."""
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    head = error.get("message") or error.get("title")
    parts = [str(part) for part in (head, details) if part]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return ": ".join(parts) or None


def _timestamp(value: Any) -> datetime | None:
    """Unix seconds (WhatsApp sends them as a string) → aware UTC datetime."""
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _clip(value: Any, limit: int) -> str:
    """A string field cut to the model's limit ('' when not a string)."""
    return value[:limit] if isinstance(value, str) else ""
