"""Feed importers: Google Merchant Center (TSV, XML, local inventory), Meta catalog CSV and
Shopify product CSV, all parsed into the same neutral records (``records.py``)."""

from __future__ import annotations

from typing import IO

from toonbank.commerce.importers import gmc, meta, shopify
from toonbank.commerce.importers.attributes import text_stream
from toonbank.commerce.importers.detect import FORMATS, detect
from toonbank.commerce.importers.records import (
    FeedError,
    ParseResult,
    ProductIn,
    Progress,
    RowError,
    VariantIn,
)

__all__ = [
    "FORMATS",
    "FeedError",
    "ParseResult",
    "ProductIn",
    "RowError",
    "VariantIn",
    "detect",
    "parse_feed",
]


def parse_feed(
    raw: IO[bytes],
    fmt: str | None = None,
    *,
    currency: str = "EUR",
    progress: Progress | None = None,
) -> ParseResult:
    """Parse a whole feed. ``raw`` must be seekable (its head is sniffed, then re-read).

    ``currency`` is used when prices carry none (always for Shopify exports).
    """
    head = raw.read(64 * 1024)
    raw.seek(0)
    fmt = fmt or detect(head)
    if fmt not in FORMATS:
        raise FeedError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    is_xml = head.decode("utf-8-sig", errors="replace").lstrip().startswith("<")
    try:
        if is_xml:
            if fmt not in ("gmc", "meta"):
                raise FeedError(f"an XML file cannot be a {fmt} feed")
            result = gmc.parse_xml(raw, currency=currency, progress=progress)
            result.format = fmt
            return result
        text = text_stream(raw, progress)
        if fmt == "shopify":
            return shopify.parse_csv(text, currency=currency)
        if fmt == "gmc_local":
            return gmc.parse_local_inventory(text)
        if fmt == "meta":
            return meta.parse_csv(text, currency=currency)
        return gmc.parse_tsv(text, currency=currency)
    except UnicodeDecodeError as exc:
        raise FeedError(f"the file is not UTF-8 text (byte {exc.start})") from None
