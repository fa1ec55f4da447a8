"""Small feed builders for tests."""

from __future__ import annotations

import io
from collections.abc import Sequence

HEADER = ("id", "title", "description", "availability", "price", "sale_price", "brand",
          "product_type", "item_group_id", "color", "size")  # fmt: skip


def gmc_tsv(rows: Sequence[Sequence[str]]) -> io.BytesIO:
    """A GMC TSV with ``HEADER`` columns; each row lists those values in order."""
    lines = ["\t".join(HEADER)] + ["\t".join(row) for row in rows]
    return io.BytesIO(("\n".join(lines) + "\n").encode())


def item(
    item_id: str,
    title: str,
    price: str = "10.00 EUR",
    *,
    group: str = "",
    colour: str = "",
    size: str = "",
    availability: str = "in_stock",
    sale: str = "",
    brand: str = "Test Brand",
    category: str = "Women > Dresses",
    description: str = "",
) -> list[str]:
    return [item_id, title, description, availability, price, sale, brand, category, group,
            colour, size]  # fmt: skip
