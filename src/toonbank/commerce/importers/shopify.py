"""Shopify product CSV exports (the classic ``Handle, Body (HTML), Variant Price …`` header and
the current ``URL handle, Description, Price …`` one).

A product spans several rows that share its handle: the first carries the product (title,
description, vendor, type, tags), each row with option values or a price is a variant, and rows
with only an image URL add images. Prices have no currency in the file: they are in the
shop's currency (``--currency``). ``Compare At Price`` is the regular price when a variant is
on sale, so the sale price is ``Price`` then.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from toonbank.commerce.importers.records import (
    COLOUR_NAMES,
    SIZE_NAMES,
    FeedError,
    ParseResult,
    ProductIn,
    RowError,
    VariantIn,
    category_path,
    clean,
    quantity,
)
from toonbank.commerce.money import Money, MoneyError

Getter = Callable[[str], str | None]

# Our name → the header names Shopify has used for it (compared case-insensitively).
COLUMNS: dict[str, tuple[str, ...]] = {
    "handle": ("handle", "url handle"),
    "title": ("title",),
    "body": ("body (html)", "description"),
    "vendor": ("vendor",),
    "category": ("product category", "standard product type"),
    "type": ("type", "custom product type"),
    "tags": ("tags",),
    "published": ("published", "published on online store"),
    "status": ("status",),
    "sku": ("variant sku", "sku"),
    "grams": ("variant grams", "weight value (grams)"),
    "qty": ("variant inventory qty", "inventory quantity"),
    "policy": ("variant inventory policy", "continue selling when out of stock"),
    "price": ("variant price", "price"),
    "compare_at": ("variant compare at price", "compare-at price"),
    "barcode": ("variant barcode", "barcode"),
    "image": ("image src", "product image url"),
    "image_position": ("image position",),
    "variant_image": ("variant image", "variant image url"),
    "gender": ("google shopping / gender",),
    "age_group": ("google shopping / age group",),
    **{f"option{n}_name": (f"option{n} name",) for n in (1, 2, 3)},
    **{f"option{n}_value": (f"option{n} value",) for n in (1, 2, 3)},
}


@dataclass
class _Product:
    record: ProductIn | None
    images: list[tuple[int, str]] = field(default_factory=list)
    option_names: list[str] = field(default_factory=list)
    keys: set[tuple[str, ...]] = field(default_factory=set)


def parse_csv(text: IO[str], *, currency: str) -> ParseResult:
    result = ParseResult(format="shopify")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise FeedError("the file is empty") from None
    lowered = [h.strip().lower() for h in header]
    index: dict[str, int] = {}
    for name, aliases in COLUMNS.items():
        for alias in aliases:
            if alias in lowered:
                index[name] = lowered.index(alias)
                break
    if "handle" not in index or "title" not in index:
        raise FeedError("a Shopify product CSV needs 'Handle' and 'Title' columns")
    products: dict[str, _Product] = {}
    try:
        for record, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            result.rows += 1
            if len(cells) != len(header):
                result.errors.append(
                    RowError(record, f"has {len(cells)} columns, the header has {len(header)}")
                )
                continue

            def get(name: str, cells: list[str] = cells) -> str | None:
                position = index.get(name)
                return clean(cells[position]) if position is not None else None

            error = _row(record, get, products, currency)
            if error is not None:
                result.errors.append(error)
    except csv.Error as exc:
        raise FeedError(f"row {result.rows + 2}: {exc}") from None
    for entry in products.values():
        if entry.record is None:
            continue
        images = [url for _pos, url in sorted(entry.images, key=lambda p: p[0])]
        for url in images:
            if url not in entry.record.images:
                entry.record.images.append(url)
        if entry.record.variants:
            result.products.append(entry.record)
    return result


def _row(
    record: int, value: Getter, products: dict[str, _Product], currency: str
) -> RowError | None:
    handle = value("handle")
    if handle is None:
        return RowError(record, "is required", None, "Handle")
    entry = products.get(handle)
    if entry is None:
        title = value("title")
        if title is None:
            products[handle] = _Product(None)
            return RowError(record, "is required on a product's first row", handle, "Title")
        published = (value("published") or "true").lower() not in ("false", "no", "0")
        status = (value("status") or "active").lower()
        tags = [t.strip() for t in (value("tags") or "").split(",") if t.strip()]
        attributes: dict[str, Any] = {"tags": tags} if tags else {}
        for key in ("gender", "age_group"):
            if (found := value(key)) is not None:
                attributes[key] = found
        if (kind := value("type")) is not None:
            attributes["product_type"] = kind
        entry = products[handle] = _Product(
            ProductIn(
                external_id=handle,
                title=title,
                row=record,
                description=value("body") or "",
                brand=value("vendor"),
                category=category_path(value("category")) or category_path(value("type")),
                attributes=attributes,
                published=published and status == "active",
            )
        )
        entry.option_names = [
            name for n in (1, 2, 3) if (name := value(f"option{n}_name")) is not None
        ]
    if entry.record is None:
        return RowError(record, "belongs to a product whose first row was rejected", handle)
    image = value("image")
    if image is not None:
        try:
            position = int(value("image_position") or 10_000)
        except ValueError:
            position = 10_000
        entry.images.append((position, image))
    option_values = [value(f"option{n}_value") for n in (1, 2, 3)]
    if value("price") is None and not any(option_values) and value("sku") is None:
        return None  # an image-only row
    return _variant(record, handle, entry, option_values, value, currency)


def _variant(
    record: int,
    handle: str,
    entry: _Product,
    option_values: list[str | None],
    value: Getter,
    currency: str,
) -> RowError | None:
    assert entry.record is not None
    raw_price = value("price")
    if raw_price is None:
        return RowError(record, "is required for a variant", handle, "Variant Price")
    try:
        price = Money.of(raw_price.replace(",", ""), currency)
        compare = value("compare_at")
        regular = Money.of(compare.replace(",", ""), currency) if compare else None
    except MoneyError as exc:
        return RowError(record, str(exc), handle, "Variant Price")
    if price.minor < 0:
        return RowError(record, "must not be negative", handle, "Variant Price")
    try:
        count = quantity(value("qty"))
    except ValueError:
        return RowError(record, "must be a whole number", handle, "Variant Inventory Qty")
    options: dict[str, str] = {}
    for name, option in zip(entry.option_names, option_values, strict=False):
        if option is not None and not (name == "Title" and option == "Default Title"):
            options[name] = option
    key = tuple(options.values())
    if key in entry.keys:
        return RowError(record, "a variant with these options already exists", handle, "Options")
    entry.keys.add(key)
    colour = next((v for k, v in options.items() if k.lower() in COLOUR_NAMES), None)
    size = next((v for k, v in options.items() if k.lower() in SIZE_NAMES), None)
    policy = (value("policy") or "deny").lower()
    if count is None or count > 0:
        state = "in_stock"
    else:
        state = "backorder" if policy in ("continue", "true", "yes") else "out_of_stock"
    on_sale = regular is not None and regular.minor > price.minor
    title = entry.record.title + (f" - {' / '.join(key)}" if key else "")
    entry.record.variants.append(
        VariantIn(
            external_id=f"{handle}/{'/'.join(key)}" if key else handle,
            title=title,
            price=regular if on_sale and regular is not None else price,
            row=record,
            sale_price=price if on_sale else None,
            sku=value("sku"),
            gtin=value("barcode"),
            options=options,
            colour=colour,
            size=size,
            availability=state,
            image=value("variant_image"),
            quantity=count,
        )
    )
    return None
