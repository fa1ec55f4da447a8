"""Column arrays of the index, for numpy: one row per document and one per variant.

Rows are appended as products are indexed (``array.array`` and ``bytearray`` grow cheaply) and
read through zero-copy numpy views during a query, so filters, facets and ranking run as a few
vector operations instead of a Python loop over thousands of products. A replaced product's
rows stay, marked dead (``doc_alive``), like its postings.

Colours and sizes are bits of an int64 mask (ids in order of first appearance). The 64th and
later distinct values share the last bit (``OVERFLOW``): a filter on one of them is refined
exactly by the caller, and facets count them from a side table of the documents that have them
(``doc_overflow``; only such documents are visited, so catalogs within 63 values pay nothing).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

OVERFLOW = 63
Mask = npt.NDArray[np.bool_]


class Ids:
    """Small dense ids for strings (colours, sizes, categories, brands, currencies)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.labels: list[str] = []

    def of(self, value: str) -> int:
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.labels)
            self.labels.append(value)
        return found

    def bits(self, values: Iterable[str]) -> int:
        return _mask(map(self.of, values))


class Columns:
    def __init__(self) -> None:
        self.colours = Ids()
        self.sizes = Ids()
        self.categories = Ids()
        self.brands = Ids()
        self.currencies = Ids()
        self.doc_alive = bytearray()
        self.doc_colours = array("q")
        self.doc_sizes = array("q")
        self.doc_category = array("i")
        self.doc_brand = array("i")
        self.doc_first = array("i")
        """Each document's first variant row (a document's variants are consecutive rows)."""
        self.doc_variants = array("i")
        self.var_doc = array("i")
        self.var_price = array("q")
        self.var_currency = array("i")
        self.var_colours = array("q")
        self.var_size = array("i")
        self.var_stock = bytearray()
        self.doc_overflow: dict[str, dict[int, tuple[int, ...]]] = {"colour": {}, "size": {}}
        """Per facet, document → ids of its values past the mask (``OVERFLOW`` and later)."""

    # -- writing -----------------------------------------------------------------------------
    def add_doc(
        self,
        colours: Iterable[str],
        sizes: Iterable[str],
        category: str | None,
        brand: str | None,
    ) -> None:
        doc = len(self.doc_alive)
        self.doc_alive.append(1)
        for which, ids, values, column in (
            ("colour", self.colours, colours, self.doc_colours),
            ("size", self.sizes, sizes, self.doc_sizes),
        ):
            numbers = {ids.of(value) for value in values}
            column.append(_signed(_mask(numbers)))
            late = tuple(sorted(n for n in numbers if n >= OVERFLOW))
            if late:
                self.doc_overflow[which][doc] = late
        self.doc_category.append(self.categories.of(category) if category else -1)
        self.doc_brand.append(self.brands.of(brand) if brand else -1)
        self.doc_first.append(len(self.var_doc))
        self.doc_variants.append(0)

    def add_variant(
        self,
        doc: int,
        price: int,
        currency: str,
        colours: Iterable[str],
        size: str | None,
        in_stock: bool,
    ) -> int:
        """Append one variant row; returns its slot (for stock updates)."""
        self.var_doc.append(doc)
        self.var_price.append(price)
        self.var_currency.append(self.currencies.of(currency))
        self.var_colours.append(_signed(self.colours.bits(colours)))
        self.var_size.append(self.sizes.of(size) if size else -1)
        self.var_stock.append(1 if in_stock else 0)
        self.doc_variants[doc] += 1
        return len(self.var_stock) - 1

    def kill(self, doc: int) -> None:
        self.doc_alive[doc] = 0

    def set_stock(self, slot: int, in_stock: bool) -> None:
        self.var_stock[slot] = 1 if in_stock else 0

    # -- reading (views are only valid while no row is appended) -----------------------------
    def alive(self) -> Mask:
        return np.frombuffer(self.doc_alive, dtype=np.bool_)

    def rows_of(self, docs: Mask) -> npt.NDArray[np.intp] | None:
        """Variant rows of the documents in ``docs`` (None: all rows, cheaper when most are)."""
        numbers = np.flatnonzero(docs)
        if len(numbers) * 2 > len(self.doc_alive):
            return None
        first = np.frombuffer(self.doc_first, dtype=np.int32)[numbers]
        counts = np.frombuffer(self.doc_variants, dtype=np.int32)[numbers]
        total = int(counts.sum())
        # Consecutive runs [first, first + count) flattened: arange plus a per-run offset.
        offsets = np.repeat(first - (np.cumsum(counts) - counts), counts)
        return np.arange(total, dtype=np.intp) + offsets

    def variant_filters(
        self,
        rows: npt.NDArray[np.intp] | None,
        *,
        colour_bits: int | None,
        size_ids: list[int] | None,
        in_stock: bool,
        price: dict[int, tuple[float, float]] | None,
    ) -> dict[str, Mask]:
        """Per filter, which of ``rows`` pass it (``price``: the allowed (low, high) per
        currency id; currencies not in it fail)."""

        def column(source: array[int] | bytearray, dtype: type) -> npt.NDArray[Any]:
            values: npt.NDArray[Any] = np.frombuffer(source, dtype=dtype)
            return values if rows is None else values[rows]

        out: dict[str, Mask] = {}
        if colour_bits is not None:
            out["colour"] = (column(self.var_colours, np.int64) & _signed(colour_bits)) != 0
        if size_ids is not None:
            out["size"] = np.isin(column(self.var_size, np.int32), size_ids)
        if in_stock:
            out["stock"] = column(self.var_stock, np.bool_)
        if price is not None:
            prices = column(self.var_price, np.int64)
            currencies = column(self.var_currency, np.int32)
            allowed = np.zeros(len(prices), dtype=np.bool_)
            for currency, (low, high) in price.items():
                allowed |= (currencies == currency) & (prices >= low) & (prices <= high)
            out["price"] = allowed
        return out

    def docs_of(self, rows: npt.NDArray[np.intp] | None, ok: Mask | None) -> Mask:
        """Documents owning at least one of ``rows`` where ``ok`` holds."""
        out = np.zeros(len(self.doc_alive), dtype=np.bool_)
        owners = np.frombuffer(self.var_doc, dtype=np.int32)
        if rows is not None:
            owners = owners[rows]
        out[owners if ok is None else owners[ok]] = True
        return out

    def bit_counts(self, which: str, scope: Mask) -> list[tuple[str, int]]:
        """(value, documents in ``scope`` having it) for the colour or size masks."""
        ids = self.colours if which == "colour" else self.sizes
        source = self.doc_colours if which == "colour" else self.doc_sizes
        every = np.frombuffer(source, dtype=np.int64)
        masks = every[scope]
        out = []
        for index, label in enumerate(ids.labels[:OVERFLOW]):
            count = int(np.count_nonzero(masks & _signed(1 << index)))
            if count:
                out.append((label, count))
        overflow = self.doc_overflow[which]
        if overflow:
            late: dict[int, int] = {}
            for doc in np.flatnonzero(scope & ((every & _signed(1 << OVERFLOW)) != 0)):
                for value in overflow.get(int(doc), ()):
                    late[value] = late.get(value, 0) + 1
            out.extend((ids.labels[value], count) for value, count in sorted(late.items()))
        return out

    def id_counts(self, which: str, scope: Mask) -> list[tuple[str, int]]:
        """(label, documents in ``scope``) for categories or brands."""
        ids = self.categories if which == "category" else self.brands
        source = self.doc_category if which == "category" else self.doc_brand
        values = np.frombuffer(source, dtype=np.int32)[scope]
        counts = np.bincount(values + 1, minlength=len(ids.labels) + 1)[1:]
        return [(ids.labels[i], int(c)) for i in np.flatnonzero(counts) for c in (counts[i],)]


def _mask(numbers: Iterable[int]) -> int:
    """The bit mask of value ids (the 64th and later share the last bit)."""
    out = 0
    for number in numbers:
        out |= 1 << min(number, OVERFLOW)
    return out


def _signed(bits: int) -> int:
    """An unsigned 64-bit mask as the signed value int64 storage holds."""
    return bits - (1 << 64) if bits >= 1 << 63 else bits
