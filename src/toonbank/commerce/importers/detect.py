"""Which feed format a file is, from its first bytes."""

from __future__ import annotations

import csv
import io

from toonbank.commerce.importers.records import FeedError

FORMATS = ("gmc", "meta", "shopify", "gmc_local")


def detect(head: bytes) -> str:
    """``gmc`` (TSV or XML), ``meta`` (CSV), ``shopify`` (CSV) or ``gmc_local`` (stock).

    GMC and Meta share one attribute vocabulary and both accept either delimiter; a tab-separated
    file is taken for Google's and a comma-separated one for Meta's (force with ``--format``).
    """
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut off at the end of the head
            raise FeedError(f"the file is not UTF-8 text (byte {exc.start})") from None
        text = head[: exc.start].decode("utf-8-sig")
    text = text.lstrip()
    if text.startswith("<"):
        return "gmc"
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise FeedError("the file is empty")
    first = lines[0]
    delimiter = "\t" if "\t" in first else ","
    header = next(csv.reader(io.StringIO(first), delimiter=delimiter))
    names = {h.strip().lower().removeprefix("g:") for h in header}
    if names & {"handle", "url handle"} and "title" in names:
        return "shopify"
    if "store_code" in names and names & {"id", "itemid", "item_id"}:
        return "gmc_local"
    if "id" in names:
        return "gmc" if delimiter == "\t" else "meta"
    raise FeedError(
        "cannot tell the feed format from the header row; pass --format gmc, meta or shopify"
    )
