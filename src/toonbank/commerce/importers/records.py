"""What every feed parser produces: neutral product and variant records, and row errors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from toonbank.commerce.money import Money

AVAILABILITY = ("in_stock", "out_of_stock", "preorder", "backorder")
_AVAILABILITY_ALIASES = {
    "in stock": "in_stock",
    "instock": "in_stock",
    "available": "in_stock",
    "out of stock": "out_of_stock",
    "outofstock": "out_of_stock",
    "sold out": "out_of_stock",
    "discontinued": "out_of_stock",
    "available for order": "backorder",
    "available_for_order": "backorder",
    "pre-order": "preorder",
    "pre order": "preorder",
}
COLOUR_NAMES = frozenset({"color", "colour", "kleur", "farbe", "couleur", "color/colour"})
SIZE_NAMES = frozenset({"size", "maat", "größe", "grösse", "grosse", "taille", "talla"})

Progress = Callable[[int], None]
"""Called with the number of bytes read so far."""


class FeedError(ValueError):
    """The file as a whole cannot be read (not a row problem): nothing is imported."""


@dataclass(slots=True)
class RowError:
    """A rejected row: where it is, which item, which field, and why."""

    row: int
    message: str
    item_id: str | None = None
    field: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "id": self.item_id, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"row {self.row}" + (f" (id {self.item_id})" if self.item_id else "")
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


@dataclass(slots=True)
class VariantIn:
    external_id: str
    title: str
    price: Money
    row: int
    sale_price: Money | None = None
    sku: str | None = None
    gtin: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    colour: str | None = None
    size: str | None = None
    availability: str = "in_stock"
    image: str | None = None
    quantity: int | None = None

    def content_hash(self, product_key: str, position: int) -> str:
        return digest(
            [
                product_key,
                position,
                self.title,
                self.sku,
                self.gtin,
                self.options,
                self.colour,
                self.size,
                self.price.minor,
                self.price.currency,
                self.sale_price.minor if self.sale_price else None,
                self.availability,
                self.image,
            ]
        )


@dataclass(slots=True)
class ProductIn:
    external_id: str
    title: str
    row: int
    description: str = ""
    brand: str | None = None
    category: str | None = None
    images: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    link: str | None = None
    published: bool = True
    variants: list[VariantIn] = field(default_factory=list)

    def content_hash(self, language: str | None) -> str:
        return digest(
            [
                self.title,
                self.description,
                self.brand,
                self.category,
                self.images,
                self.attributes,
                self.link,
                self.published,
                language,
            ]
        )


@dataclass
class ParseResult:
    format: str
    products: list[ProductIn] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0
    stock: list[tuple[int, str, str, int]] = field(default_factory=list)
    """Local inventory feeds only: (row, location code, variant external id, quantity)."""


def digest(value: Any) -> str:
    """A change detector (not security): ``repr`` of plain values built in a fixed order."""
    return hashlib.md5(repr(value).encode(), usedforsecurity=False).hexdigest()


def availability(value: str | None) -> str | None:
    """GMC ``in_stock`` and Meta ``in stock`` alike; ``None`` for unknown values."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in AVAILABILITY:
        return text
    return _AVAILABILITY_ALIASES.get(text) or (
        text.replace(" ", "_") if text.replace(" ", "_") in AVAILABILITY else None
    )


def quantity(value: str | None) -> int | None:
    """A non-negative whole number, or ``None`` when empty; ``ValueError`` otherwise."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.endswith(".0"):
        text = text[:-2]
    number = int(text)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None


def category_path(value: str | None) -> str | None:
    """``Apparel > Women >Dresses`` → ``Apparel > Women > Dresses``."""
    text = clean(value)
    if not text:
        return None
    parts = [p.strip() for p in text.replace("&gt;", ">").split(">")]
    return " > ".join(p for p in parts if p) or None
