"""Attribute feeds (Google Merchant Center and Meta catalogs): one row per variant.

Both formats name each column after a product attribute (``id``, ``title``, ``price``,
``item_group_id``, ``color``, ``size`` …; Meta adopted Google's vocabulary). Rows that share an
``item_group_id`` are variants of one product; a row without one is a product of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO

from toonbank.commerce.importers.records import (
    FeedError,
    ParseResult,
    ProductIn,
    Progress,
    RowError,
    VariantIn,
    availability,
    category_path,
    quantity,
)
from toonbank.commerce.money import Money, MoneyError

csv.field_size_limit(16 * 1024 * 1024)

ATTRIBUTE_KEYS = (
    "gender",
    "age_group",
    "material",
    "pattern",
    "condition",
    "mpn",
    "google_product_category",
    "fb_product_category",
    "size_system",
    "size_type",
)
_ALIASES = {
    "colour": "color",
    "quantity_to_sell_on_facebook": "quantity",
    "inventory": "quantity",
    "image[0].url": "image_link",
    "rich_text_description": "description",
    "product type": "product_type",
    "item group id": "item_group_id",
    "image link": "image_link",
    "additional image link": "additional_image_link",
    "sale price": "sale_price",
}


def add_value(attrs: dict[str, str], name: str, value: str) -> None:
    """Keep the first value of an attribute; image lists accumulate (comma-separated)."""
    if name not in attrs:
        attrs[name] = value
    elif name == "additional_image_link":
        attrs[name] = f"{attrs[name]},{value}"


def attribute_name(header: str) -> str:
    """``g:image_link``, ``Image Link`` and ``image_link`` are the same attribute."""
    name = header.strip().lower()
    if name.startswith("g:"):
        name = name[2:]
    name = _ALIASES.get(name, name)
    if name.startswith("image[") and name.endswith("].url"):
        return "additional_image_link"
    return _ALIASES.get(name.replace(" ", "_"), name.replace(" ", "_"))


@dataclass
class _Group:
    product: ProductIn
    seen_images: set[str] = field(default_factory=set)


class AttributeFeed:
    """Validates attribute rows one at a time and groups variants into products."""

    def __init__(self, fmt: str, *, currency: str | None, id_max: int) -> None:
        self.result = ParseResult(format=fmt)
        self._currency = currency
        self._id_max = id_max
        self._groups: dict[str, _Group] = {}
        self._ids: set[str] = set()

    def add(self, row: int, attrs: Mapping[str, str]) -> None:
        """One row: attribute name → stripped, non-empty value (see ``add_value``)."""
        self.result.rows += 1
        errors = self._add(row, attrs)
        self.result.errors.extend(errors)

    def _add(self, row: int, attrs: Mapping[str, str]) -> list[RowError]:
        first = attrs.get
        item_id = first("id")
        if item_id is None:
            return [RowError(row, "is required", None, "id")]
        errors: list[RowError] = []

        def bad(name: str, message: str) -> None:
            errors.append(RowError(row, message, item_id, name))

        if len(item_id) > self._id_max:
            bad("id", f"is longer than {self._id_max} characters")
        if item_id in self._ids:
            bad("id", "appears more than once in this file")
        title = first("title")
        if title is None:
            bad("title", "is required")
        price = sale = None
        raw_price = first("price")
        if raw_price is None:
            bad("price", "is required")
        else:
            try:
                price = Money.parse(raw_price, self._currency)
                if price.minor < 0:
                    bad("price", "must not be negative")
            except MoneyError as exc:
                bad("price", str(exc))
        raw_sale = first("sale_price")
        if raw_sale is not None and price is not None:
            try:
                sale = Money.parse(raw_sale, self._currency)
                if sale.currency != price.currency:
                    bad("sale_price", "is in another currency than price")
                elif sale.minor > price.minor or sale.minor < 0:
                    bad("sale_price", "must be between 0 and price")
            except MoneyError as exc:
                bad("sale_price", str(exc))
        raw_availability = first("availability")
        stock_state = availability(raw_availability) if raw_availability else "in_stock"
        if stock_state is None:
            bad("availability", f"unknown value {raw_availability!r}")
        try:
            count = quantity(first("quantity"))
        except ValueError:
            count = None
            bad("quantity", "must be a whole number of at least 0")
        if errors:
            return errors
        assert title is not None and price is not None and stock_state is not None
        self._ids.add(item_id)
        group_key = first("item_group_id") or item_id
        colour, size = first("color"), first("size")
        images = [u.strip() for u in first("image_link", "").split(",") if u.strip()]
        extra = first("additional_image_link")
        if extra:
            images.extend(u.strip() for u in extra.split(",") if u.strip())
        options = {k: v for k, v in (("color", colour), ("size", size)) if v}
        variant = VariantIn(
            external_id=item_id,
            title=title,
            price=price,
            row=row,
            sale_price=sale,
            sku=first("mpn") or item_id,
            gtin=first("gtin"),
            options=options,
            colour=colour,
            size=size,
            availability=stock_state,
            image=images[0] if images else None,
            quantity=count,
        )
        group = self._groups.get(group_key)
        if group is None:
            status = (first("status") or "active").lower()
            product = ProductIn(
                external_id=group_key,
                title=title,
                row=row,
                description=first("description") or "",
                brand=first("brand"),
                category=category_path(first("product_type")),
                link=first("link"),
                published=status not in ("archived", "staging", "inactive"),
                attributes={k: v for k in ATTRIBUTE_KEYS if (v := first(k)) is not None},
            )
            group = self._groups[group_key] = _Group(product)
        for url in images:
            if url not in group.seen_images:
                group.seen_images.add(url)
                group.product.images.append(url)
        group.product.variants.append(variant)
        return []

    def finish(self) -> ParseResult:
        for group in self._groups.values():
            product = group.product
            if len(product.variants) > 1:
                product.title = common_title(product.variants) or product.title
            if product.category is None:
                google = product.attributes.get("google_product_category")
                if google and not str(google).isdigit():
                    product.category = category_path(str(google))
        self.result.products = [g.product for g in self._groups.values()]
        return self.result


_PUNCTUATION = ",;:-/|()\u2013\u2014"  # with en and em dashes


def common_title(variants: list[VariantIn]) -> str | None:
    """The words all variant titles start with, less a trailing shared colour or size:
    ``Jacket - navy, M`` + ``Jacket - navy, L`` → ``Jacket``."""
    split = [v.title.split() for v in variants]
    words: list[str] = []
    for column in zip(*split, strict=False):
        if any(w.casefold() != column[0].casefold() for w in column):
            break
        words.append(column[0])
    shared = {
        value.casefold()
        for value in (variants[0].colour, variants[0].size)
        if value and all((v.colour == value or v.size == value) for v in variants)
    }
    while words and words[-1].strip(_PUNCTUATION).casefold() in shared | {""}:
        words.pop()
    text = " ".join(words).rstrip(" " + _PUNCTUATION)
    return text if len(text) >= 3 else None


def read_delimited(text: IO[str], feed: AttributeFeed, delimiter: str | None = None) -> ParseResult:
    """TSV or CSV with a header row of attribute names (Meta's ``# …`` help lines skipped)."""
    header: list[str] | None = None
    record = 0
    reader: Iterator[list[str]] | None = None
    lines = _skip_comments(text)
    first_line = next(lines, None)
    if first_line is None:
        raise FeedError("the file is empty")
    sep = delimiter or ("\t" if "\t" in first_line else ",")
    reader = csv.reader(_chain(first_line, lines), delimiter=sep)
    try:
        for cells in reader:
            record += 1
            if header is None:
                header = [attribute_name(h) for h in cells]
                if "id" not in header:
                    raise FeedError("no 'id' column in the header row")
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                feed.result.rows += 1
                feed.result.errors.append(
                    RowError(
                        record,
                        f"has {len(cells)} columns, the header has {len(header)}",
                        cells[header.index("id")].strip() or None
                        if len(cells) > header.index("id")
                        else None,
                    )
                )
                continue
            attrs: dict[str, str] = {}
            for name, value in zip(header, cells, strict=True):
                value = value.strip()
                if value:
                    add_value(attrs, name, value)
            feed.add(record, attrs)
    except csv.Error as exc:
        raise FeedError(f"row {record + 1}: {exc}") from None
    return feed.finish()


def _skip_comments(text: IO[str]) -> Iterator[str]:
    started = False
    for line in text:
        if not started and (line.startswith("#") or not line.strip()):
            continue
        started = True
        yield line


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


class CountingReader(io.RawIOBase):
    """A binary stream that reports how many bytes were read (for the progress bar)."""

    def __init__(self, raw: IO[bytes], progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self._progress is not None and n:
            self._progress(self.count)
        return n


def text_stream(raw: IO[bytes], progress: Progress | None) -> IO[str]:
    buffered = io.BufferedReader(CountingReader(raw, progress), buffer_size=256 * 1024)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="", errors="strict")
