"""Build Send API bodies for Messenger and Instagram from neutral content.

Every request is ``{"recipient": {"id": <PSID or IGSID>}, "messaging_type": ..., "message":
{...}}``. ``messaging_type`` is ``RESPONSE`` (a reply inside the 24-hour standard messaging
window) or, for a person answering later, ``MESSAGE_TAG`` with ``"tag": "HUMAN_AGENT"`` (allowed
up to 7 days after the customer's last message) — see :func:`messaging_fields`.

Native renderings (Meta Send API docs):

* text: ``{"text"}``; Messenger allows 2000 characters, Instagram 1000 characters *and* 1000
  UTF-8 bytes — longer texts are sent as several messages.
* quick replies: ``{"text", "quick_replies": [{"content_type": "text", "title", "payload"}]}``,
  at most 13, titles are cut to 20 characters.
* media by URL: ``{"attachment": {"type": "image|video|audio|file", "payload": {"url",
  "is_reusable": false}}}``; attachments have no caption, so a caption is sent as a text first.
* product card / carousel: generic template, at most 10 elements of ``title`` (80),
  ``subtitle`` (80: price and subtitle), ``image_url``, ``default_action`` (``web_url`` to the
  product page) and up to 3 ``postback`` buttons (title 20) carrying the options' payloads.
  An accompanying text goes out first as a text message.
* payment link: button template (text up to 640 characters, one ``web_url`` button).

Content sent as several messages is ordered so the *last* message is the main one (the quick
replies or the card); its id is the one :class:`~toonbank.channels.base.SendResult` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from toonbank.channels.base import SendError
from toonbank.channels.content import (
    Content,
    Media,
    Option,
    OrderSummary,
    PaymentLink,
    Product,
    ProductCard,
    ProductCarousel,
    QuickReplies,
    Text,
)
from toonbank.channels.render import currency_exponent, format_money, format_plain, split_text

Body = dict[str, Any]

MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE = 20
BUTTON_TITLE = 20
MAX_RECEIPT_ELEMENTS = 100
"""Receipt templates list at most 100 items."""
MAX_ELEMENTS = 10
MAX_ELEMENT_BUTTONS = 3
ELEMENT_TITLE = 80
ELEMENT_SUBTITLE = 80
BUTTON_TEMPLATE_TEXT = 640


@dataclass(frozen=True, slots=True)
class TextLimit:
    """How long one message text may be: characters and, where Meta counts them, UTF-8 bytes."""

    chars: int
    utf8_bytes: int | None = None


MESSENGER_TEXT = TextLimit(chars=2000)
INSTAGRAM_TEXT = TextLimit(chars=1000, utf8_bytes=1000)


def messaging_fields(human_agent: bool) -> dict[str, str]:
    """``messaging_type`` (and ``tag``) of a send.

    ``human_agent=False``: ``{"messaging_type": "RESPONSE"}`` — a reply within 24 hours of the
    customer's last message. ``human_agent=True``: ``{"messaging_type": "MESSAGE_TAG", "tag":
    "HUMAN_AGENT"}`` — a person's reply up to 7 days later; the dispatcher sets this for agent
    messages outside 24 h (an automated message must never use it).
    """
    if human_agent:
        return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    return {"messaging_type": "RESPONSE"}


def envelope(recipient: str, message: Body, *, human_agent: bool) -> Body:
    """The full Send API request body for one message object."""
    return {"recipient": {"id": recipient}, **messaging_fields(human_agent), "message": message}


def message_objects(content: Content, limit: TextLimit) -> list[Body]:
    """The ``message`` objects for one content item, main message last."""
    match content:
        case Text(text=text):
            return _texts(text, limit)
        case Media():
            return _media(content, limit)
        case QuickReplies():
            return _quick_replies(content, limit)
        case ProductCard(product=product, text=text):
            return _generic(content, [product], text, limit)
        case ProductCarousel(products=products, text=text):
            return _generic(content, products[:MAX_ELEMENTS], text, limit)
        case PaymentLink():
            return _payment(content, limit)
        case OrderSummary():
            return _receipt(content, limit)
    raise SendError(
        f"{content.type} content is not rendered natively on this channel (degrade it first)",
        retryable=False,
        error_code="unsupported_content",
    )


def text_pieces(text: str, limit: TextLimit) -> list[str]:
    """``text`` split at word boundaries into pieces within the character and byte limits."""
    size = limit.chars
    while True:
        pieces = split_text(text, size)
        if limit.utf8_bytes is None:
            return pieces
        worst = max(len(piece.encode()) for piece in pieces)
        if worst <= limit.utf8_bytes or size == 1:
            return pieces
        size = max(1, min(size - 1, size * limit.utf8_bytes // worst))


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis when too long."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _texts(text: str, limit: TextLimit) -> list[Body]:
    return [{"text": piece} for piece in text_pieces(text, limit)]


def _media(content: Media, limit: TextLimit) -> list[Body]:
    """Caption (as text) first, then the attachment by URL."""
    lead = _texts(content.caption, limit) if content.caption else []
    payload = {"url": content.url, "is_reusable": False}
    return [*lead, {"attachment": {"type": content.kind, "payload": payload}}]


def _quick_replies(content: QuickReplies, limit: TextLimit) -> list[Body]:
    """Quick replies hang on the last text piece."""
    pieces = text_pieces(content.text, limit)
    replies = [
        {
            "content_type": "text",
            "title": clip(option.title, QUICK_REPLY_TITLE),
            "payload": option.payload,
        }
        for option in content.options[:MAX_QUICK_REPLIES]
    ]
    last = {"text": pieces[-1], "quick_replies": replies}
    return [*({"text": piece} for piece in pieces[:-1]), last]


def _postback(option: Option) -> Body:
    """A postback button: tapping it sends ``payload`` back as a ``postback`` event."""
    title = clip(option.title, BUTTON_TITLE)
    return {"type": "postback", "title": title, "payload": option.payload}


def _element(product: Product) -> Body:
    """One generic-template element; Meta needs at least one property besides the title."""
    element: Body = {"title": clip(product.title, ELEMENT_TITLE)}
    price = (
        format_money(product.price, product.currency)
        if product.price is not None and product.currency
        else None
    )
    subtitle = " · ".join(part for part in (price, product.subtitle) if part)
    if subtitle:
        element["subtitle"] = clip(subtitle, ELEMENT_SUBTITLE)
    if product.image_url:
        element["image_url"] = product.image_url
    if product.url:
        element["default_action"] = {"type": "web_url", "url": product.url}
    if product.buttons:
        element["buttons"] = [_postback(b) for b in product.buttons[:MAX_ELEMENT_BUTTONS]]
    return element


def _generic(
    content: Content, products: list[Product], text: str | None, limit: TextLimit
) -> list[Body]:
    """Text first (templates have no body text), then the generic template."""
    elements = [_element(product) for product in products]
    if any(len(element) == 1 for element in elements):
        return _texts(format_plain(content), limit)  # a bare title is not a valid element
    lead = _texts(text, limit) if text else []
    payload = {"template_type": "generic", "elements": elements}
    return [*lead, {"attachment": {"type": "template", "payload": payload}}]


def _payment(content: PaymentLink, limit: TextLimit) -> list[Body]:
    """Button template: the text (or the amount) with a ``web_url`` button to the payment."""
    amount = format_money(content.amount, content.currency)
    template_limit = TextLimit(min(BUTTON_TEMPLATE_TEXT, limit.chars), limit.utf8_bytes)
    pieces = text_pieces(content.text or amount, template_limit)
    button = {"type": "web_url", "url": str(content.url), "title": clip(f"💳 {amount}", 20)}
    payload = {"template_type": "button", "text": pieces[-1], "buttons": [button]}
    lead = [{"text": piece} for piece in pieces[:-1]]
    return [*lead, {"attachment": {"type": "template", "payload": payload}}]


def _major(amount: int, currency: str) -> float:
    """Minor units as the decimal number Meta's receipt expects (exact in the JSON text)."""
    return float(Decimal(amount).scaleb(-currency_exponent(currency)))


def _receipt(content: OrderSummary, limit: TextLimit) -> list[Body]:
    """Receipt template for a placed order; a cart, or an order without the receipt's required
    fields (number, customer name, payment method), goes out as text."""
    if not (
        content.kind == "order"
        and content.reference
        and content.customer_name
        and content.payment_method
    ):
        return _texts(format_plain(content), limit)
    currency = content.currency.upper()
    subtotal = sum(item.unit_price * item.quantity for item in content.items)
    elements = [
        {
            "title": clip(item.title, 80),
            "quantity": item.quantity,
            "price": _major(item.unit_price * item.quantity, currency),
            "currency": currency,
        }
        for item in content.items[:MAX_RECEIPT_ELEMENTS]
    ]
    payload: Body = {
        "template_type": "receipt",
        "recipient_name": content.customer_name,
        "order_number": content.reference,
        "currency": currency,
        "payment_method": content.payment_method,
        "elements": elements,
        "summary": {
            "subtotal": _major(subtotal, currency),
            "shipping_cost": _major(content.shipping, currency),
            "total_cost": _major(content.total, currency),
        },
    }
    if content.discount:
        payload["adjustments"] = [
            {"name": "Discount", "amount": _major(content.discount, currency)}
        ]
    return [{"attachment": {"type": "template", "payload": payload}}]
