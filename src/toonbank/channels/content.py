"""The neutral message model every channel parses into and renders from.

A message's ``content`` is one of the classes below, discriminated by ``type``. Channels
declare what they can show natively (:class:`toonbank.channels.capabilities.Capabilities`);
:mod:`toonbank.channels.render` degrades the rest to something every channel can show.
Money is always an integer amount in minor units plus an ISO-4217 currency code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, TypeAdapter


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Content):
    """One choice of a quick-reply / button / list row. ``payload`` comes back when chosen."""

    title: str = Field(min_length=1, max_length=80)
    payload: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=160)


class Text(_Content):
    type: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=4096)


class Media(_Content):
    type: Literal["media"] = "media"
    kind: Literal["image", "audio", "video", "file"]
    url: str = Field(min_length=1, max_length=2048)
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, max_length=255)
    mime_type: str | None = Field(default=None, max_length=127)


class Location(_Content):
    type: Literal["location"] = "location"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, max_length=255)
    address: str | None = Field(default=None, max_length=512)


class ContactCard(_Content):
    type: Literal["contact"] = "contact"
    name: str = Field(min_length=1, max_length=255)
    phones: list[str] = Field(default_factory=list, max_length=10)
    emails: list[str] = Field(default_factory=list, max_length=10)


class QuickReplies(_Content):
    """Text with buttons / quick replies."""

    type: Literal["quick_replies"] = "quick_replies"
    text: str = Field(min_length=1, max_length=1024)
    options: list[Option] = Field(min_length=1, max_length=13)


class ListSection(_Content):
    title: str | None = Field(default=None, max_length=24)
    options: list[Option] = Field(min_length=1, max_length=10)


class ListPicker(_Content):
    type: Literal["list"] = "list"
    text: str = Field(min_length=1, max_length=1024)
    button: str = Field(default="Choose", min_length=1, max_length=20)
    sections: list[ListSection] = Field(min_length=1, max_length=10)

    def options(self) -> list[Option]:
        return [option for section in self.sections for option in section.options]


class Product(_Content):
    """A product as shown in a card; ``price`` is in minor units of ``currency``."""

    id: str = Field(min_length=1, max_length=128)
    title: str = Field(min_length=1, max_length=255)
    price: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    image_url: str | None = Field(default=None, max_length=2048)
    url: str | None = Field(default=None, max_length=2048)
    subtitle: str | None = Field(default=None, max_length=255)
    buttons: list[Option] = Field(default_factory=list, max_length=3)


class ProductCard(_Content):
    type: Literal["product"] = "product"
    product: Product
    text: str | None = Field(default=None, max_length=1024)


class ProductCarousel(_Content):
    type: Literal["carousel"] = "carousel"
    text: str | None = Field(default=None, max_length=1024)
    products: list[Product] = Field(min_length=1, max_length=10)


class LineItem(_Content):
    title: str = Field(min_length=1, max_length=255)
    quantity: int = Field(ge=1)
    unit_price: int = Field(ge=0)
    product_id: str | None = None


class OrderSummary(_Content):
    """A cart or an order: what is in it and what it costs."""

    type: Literal["order_summary"] = "order_summary"
    kind: Literal["cart", "order"] = "cart"
    reference: str | None = Field(default=None, max_length=64)
    currency: str = Field(min_length=3, max_length=3)
    items: list[LineItem] = Field(min_length=1, max_length=100)
    shipping: int = Field(default=0, ge=0)
    discount: int = Field(default=0, ge=0)
    total: int = Field(ge=0)
    status: str | None = Field(default=None, max_length=64)
    customer_name: str | None = Field(default=None, max_length=255)
    payment_method: str | None = Field(default=None, max_length=64)
    """How it was paid, readable by the customer ("iDEAL", "Visa 2345"); receipts show it."""


class PaymentLink(_Content):
    type: Literal["payment_link"] = "payment_link"
    url: HttpUrl
    amount: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    text: str | None = Field(default=None, max_length=1024)
    expires_at: str | None = None


class Template(_Content):
    """A pre-approved template message (WhatsApp and friends); ``fallback_text`` elsewhere."""

    type: Literal["template"] = "template"
    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=15)
    variables: list[str] = Field(default_factory=list, max_length=20)
    buttons: list[Option] = Field(default_factory=list, max_length=3)
    fallback_text: str | None = Field(default=None, max_length=4096)


class Reply(_Content):
    """Inbound: the customer chose an option (button, quick reply, list row)."""

    type: Literal["reply"] = "reply"
    payload: str = Field(min_length=1, max_length=256)
    title: str | None = Field(default=None, max_length=255)


Content = Annotated[
    Text
    | Media
    | Location
    | ContactCard
    | QuickReplies
    | ListPicker
    | ProductCard
    | ProductCarousel
    | OrderSummary
    | PaymentLink
    | Template
    | Reply,
    Field(discriminator="type"),
]

CONTENT_ADAPTER: TypeAdapter[Content] = TypeAdapter(Content)


def parse_content(data: object) -> Content:
    """Validate a JSON-like object into a content instance (raises ``pydantic.ValidationError``)."""
    return CONTENT_ADAPTER.validate_python(data)


def dump_content(content: Content) -> dict[str, object]:
    return content.model_dump(mode="json", exclude_none=True)


def options_of(content: Content) -> list[Option]:
    """The choices a customer can answer with, in display order (for "2" → option mapping)."""
    if isinstance(content, QuickReplies):
        return list(content.options)
    if isinstance(content, ListPicker):
        return content.options()
    if isinstance(content, Template):
        return list(content.buttons)
    if isinstance(content, ProductCard):
        return list(content.product.buttons)
    if isinstance(content, ProductCarousel):
        return [b for p in content.products for b in p.buttons]
    return []


def preview_text(content: Content) -> str:
    """A short plain-text summary (for lists, notifications; never logged by default)."""
    match content:
        case Text(text=text) | QuickReplies(text=text) | ListPicker(text=text):
            return text
        case Media(kind=kind, caption=caption):
            return caption or f"[{kind}]"
        case Location(name=name):
            return name or "[location]"
        case ContactCard(name=name):
            return f"[contact: {name}]"
        case ProductCard(product=product):
            return product.title
        case ProductCarousel(products=products):
            return ", ".join(p.title for p in products)
        case OrderSummary(kind=kind, reference=reference):
            return f"[{kind} {reference or ''}]".replace(" ]", "]")
        case PaymentLink():
            return "[payment link]"
        case Template(name=name, fallback_text=fallback):
            return fallback or f"[template {name}]"
        case Reply(title=title, payload=payload):
            return title or payload
    return ""
