"""Request bodies of the commerce REST API (prices are decimal strings, never floats)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from toonbank.commerce.importers import ProductIn, VariantIn
from toonbank.commerce.importers.records import COLOUR_NAMES, SIZE_NAMES
from toonbank.commerce.money import CURRENCIES, Money

AMOUNT = r"^\d{1,12}(\.\d{1,4})?$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VariantBody(_Body):
    external_id: str = Field(min_length=1, max_length=255)
    title: str | None = Field(default=None, max_length=1000)
    sku: str | None = Field(default=None, max_length=255)
    gtin: str | None = Field(default=None, max_length=50)
    options: dict[str, str] = Field(default_factory=dict)
    colour: str | None = Field(default=None, max_length=100)
    size: str | None = Field(default=None, max_length=100)
    price: str = Field(pattern=AMOUNT, description='Major units as a string, e.g. "19.95".')
    sale_price: str | None = Field(default=None, pattern=AMOUNT)
    availability: Literal["in_stock", "out_of_stock", "preorder", "backorder"] = "in_stock"
    image: str | None = None
    quantity: int | None = Field(default=None, ge=0, description="Stock at the body's location.")


class ProductBody(_Body):
    external_id: str = Field(min_length=1, max_length=255)
    title: str = Field(min_length=1, max_length=1000)
    description: str = ""
    brand: str | None = Field(default=None, max_length=255)
    category: str | None = Field(default=None, max_length=500)
    images: list[str] = Field(default_factory=list, max_length=50)
    attributes: dict[str, Any] = Field(default_factory=dict)
    link: str | None = None
    published: bool = True
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    variants: list[VariantBody] = Field(min_length=1, max_length=250)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value.upper() not in CURRENCIES:
            raise ValueError(f"unknown currency {value!r}")
        return value.upper()

    def to_record(self, row: int) -> ProductIn:
        variants = []
        for v in self.variants:
            price = Money.of(v.price, self.currency)
            sale = Money.of(v.sale_price, self.currency) if v.sale_price else None
            if sale is not None and sale.minor > price.minor:
                raise ValueError(f"variant {v.external_id}: sale_price must not exceed price")
            colour = v.colour or next(
                (val for k, val in v.options.items() if k.lower() in COLOUR_NAMES), None
            )
            size = v.size or next(
                (val for k, val in v.options.items() if k.lower() in SIZE_NAMES), None
            )
            variants.append(
                VariantIn(
                    external_id=v.external_id,
                    title=v.title or self.title,
                    price=price,
                    row=row,
                    sale_price=sale,
                    sku=v.sku,
                    gtin=v.gtin,
                    options=dict(v.options),
                    colour=colour,
                    size=size,
                    availability=v.availability,
                    image=v.image,
                    quantity=v.quantity,
                )
            )
        return ProductIn(
            external_id=self.external_id,
            title=self.title,
            row=row,
            description=self.description,
            brand=self.brand,
            category=" > ".join(p.strip() for p in self.category.split(">") if p.strip())
            if self.category
            else None,
            images=list(self.images),
            attributes=dict(self.attributes),
            link=self.link,
            published=self.published,
            variants=variants,
        )


class ProductsUpsert(_Body):
    products: list[ProductBody] = Field(min_length=1, max_length=1000)
    location: str = Field(default="online", min_length=1, max_length=64)


class ProductPatch(_Body):
    published: bool


class StockItem(_Body):
    variant_id: str | None = Field(default=None, max_length=32)
    sku: str | None = Field(default=None, max_length=255)
    location: str = Field(default="online", min_length=1, max_length=64)
    quantity: int = Field(ge=0, le=10_000_000)


class StockUpdateBody(_Body):
    items: list[StockItem] = Field(min_length=1, max_length=5000)


class StoreBody(_Body):
    name: str = Field(min_length=1, max_length=255)
    kind: Literal["store", "warehouse"] = "store"
    address: str | None = None
    postcode: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    latitude: float | None = None
    longitude: float | None = None
    phone: str | None = Field(default=None, max_length=50)
    timezone: str = "Europe/Amsterdam"
    opening_hours: dict[str, Any] = Field(default_factory=dict)
    exceptions: list[dict[str, Any]] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    active: bool = True


class ShippingBody(_Body):
    name: str = Field(min_length=1, max_length=255)
    carrier: str | None = Field(default=None, max_length=100)
    kind: Literal["delivery", "pickup"] = "delivery"
    countries: list[str] = Field(default_factory=list)
    price: str = Field(pattern=AMOUNT)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    free_over: str | None = Field(default=None, pattern=AMOUNT)
    timezone: str = "Europe/Amsterdam"
    cutoff: str = Field(default="17:00", pattern=r"^\d{2}:\d{2}$")
    dispatch_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    delivery_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5])
    transit_days_min: int = Field(default=1, ge=0, le=60)
    transit_days_max: int = Field(default=2, ge=0, le=60)
    holidays: list[str] = Field(default_factory=list)
    active: bool = True
    position: int = 0

    @field_validator("dispatch_days", "delivery_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday), at least one")
        return sorted(set(value))
