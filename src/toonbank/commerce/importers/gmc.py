"""Google Merchant Center product feeds: tab-separated text and XML (RSS 2.0 or Atom 1.0).

Also the local inventory feed (``store_code``, ``id``, ``quantity``): stock per store.
Attribute names and values follow Google's product data specification; see
``docs/commerce.md`` for what is read.
"""

from __future__ import annotations

from typing import IO
from xml.etree.ElementTree import ParseError

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import iterparse

from toonbank.commerce.importers.attributes import (
    AttributeFeed,
    CountingReader,
    add_value,
    attribute_name,
    read_delimited,
)
from toonbank.commerce.importers.records import (
    FeedError,
    ParseResult,
    Progress,
    RowError,
    clean,
    quantity,
)

GOOGLE_NS = "http://base.google.com/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
ID_MAX = 50  # Google's limit for [id]


def parse_tsv(
    text: IO[str], *, currency: str | None = None, delimiter: str | None = None
) -> ParseResult:
    return read_delimited(text, AttributeFeed("gmc", currency=currency, id_max=ID_MAX), delimiter)


def parse_xml(
    raw: IO[bytes], *, currency: str | None = None, progress: Progress | None = None
) -> ParseResult:
    """RSS 2.0 (``<item>``) or Atom 1.0 (``<entry>``) with ``g:`` attributes.

    Parsed with ``defusedxml``: DTDs, entity expansion and external references are refused.

    Row numbers are item numbers (the first ``<item>`` is 1). A file that is not well-formed
    XML is refused as a whole: a truncated full feed must not unpublish the rest.
    """
    feed = AttributeFeed("gmc", currency=currency, id_max=ID_MAX)
    index = 0
    source = CountingReader(raw, progress)
    try:
        for _event, element in iterparse(source, events=("end",), forbid_dtd=True):
            tag = _local(element.tag)
            if tag not in ("item", "entry"):
                continue
            index += 1
            attrs: dict[str, str] = {}
            for child in element:
                name = attribute_name(_local(child.tag))
                if name == "summary":
                    name = "description"
                value = (child.text or "").strip()
                if name == "link" and not value:
                    value = child.get("href", "").strip()
                if value:
                    add_value(attrs, name, value)
            feed.add(index, attrs)
            element.clear()
    except ParseError as exc:
        raise FeedError(f"not well-formed XML ({exc}); nothing was imported") from None
    except DefusedXmlException as exc:
        raise FeedError(f"refused XML construct ({exc}); nothing was imported") from None
    if index == 0:
        raise FeedError("no <item> or <entry> elements: not a product feed")
    return feed.finish()


def _local(tag: str) -> str:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return f"g:{name}" if namespace == GOOGLE_NS else name
    return tag


def parse_local_inventory(text: IO[str], *, delimiter: str | None = None) -> ParseResult:
    """Local inventory feed: ``store_code``, ``id`` (the product's offer id), ``quantity``.

    ``availability`` alone (no quantity) maps to 1 (in stock) or 0 (out of stock).
    """
    import csv

    result = ParseResult(format="gmc_local")
    first = text.readline()
    if not first:
        raise FeedError("the file is empty")
    sep = delimiter or ("\t" if "\t" in first else ",")
    header = [attribute_name(h) for h in next(csv.reader([first], delimiter=sep))]
    header = ["id" if h in ("itemid", "item_id") else h for h in header]
    for needed in ("store_code", "id"):
        if needed not in header:
            raise FeedError(f"no {needed!r} column in the header row")
    for number, cells in enumerate(csv.reader(text, delimiter=sep), start=2):
        if not any(c.strip() for c in cells):
            continue
        result.rows += 1
        if len(cells) != len(header):
            result.errors.append(
                RowError(number, f"has {len(cells)} columns, the header has {len(header)}")
            )
            continue
        row = dict(zip(header, cells, strict=True))
        item_id, store = clean(row.get("id")), clean(row.get("store_code"))
        if not item_id or not store:
            result.errors.append(
                RowError(number, "is required", item_id, "id" if not item_id else "store_code")
            )
            continue
        try:
            count = quantity(row.get("quantity"))
        except ValueError:
            result.errors.append(
                RowError(number, "must be a whole number of at least 0", item_id, "quantity")
            )
            continue
        if count is None:
            state = (row.get("availability") or "").strip().lower().replace(" ", "_")
            if state not in ("in_stock", "out_of_stock", "limited_availability"):
                result.errors.append(
                    RowError(number, "needs a quantity or an availability", item_id, "quantity")
                )
                continue
            count = 0 if state == "out_of_stock" else 1
        result.stock.append((number, store, item_id, count))
    return result
