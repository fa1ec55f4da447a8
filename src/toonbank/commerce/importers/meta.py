"""Meta (Facebook and Instagram) catalog data feeds: CSV or TSV with a header row.

Meta's own templates start with a row of ``# Required | …`` help texts; it is skipped. The
columns are Google's attribute names plus Meta's own (``quantity_to_sell_on_facebook``,
``rich_text_description``, ``fb_product_category``, ``status``, flattened ``image[0].url``).
"""

from __future__ import annotations

from typing import IO

from toonbank.commerce.importers.attributes import AttributeFeed, read_delimited
from toonbank.commerce.importers.records import ParseResult

ID_MAX = 100  # Meta's limit for [id]


def parse_csv(
    text: IO[str], *, currency: str | None = None, delimiter: str | None = None
) -> ParseResult:
    return read_delimited(text, AttributeFeed("meta", currency=currency, id_max=ID_MAX), delimiter)
