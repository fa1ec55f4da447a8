"""Feed parsers on small files in each official format, malformed rows included.

Bad rows are reported one by one (row number, item id, field, reason) and skipped; good rows
are kept. Only a file that cannot be read as a whole (not well-formed XML, not UTF-8) is
refused outright.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from toonbank.commerce.importers import FeedError, ParseResult, detect, parse_feed
from toonbank.commerce.money import Money

FIXTURES = Path(__file__).parent / "fixtures"


def parse(name: str, fmt: str | None = None, currency: str = "EUR") -> ParseResult:
    with (FIXTURES / name).open("rb") as handle:
        return parse_feed(handle, fmt, currency=currency)


def errors(result: ParseResult) -> list[tuple[int, str | None, str | None, str]]:
    return [(e.row, e.item_id, e.field, e.message) for e in result.errors]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("gmc_products.tsv", "gmc"),
        ("gmc_products.xml", "gmc"),
        ("gmc_products_atom.xml", "gmc"),
        ("meta_catalog.csv", "meta"),
        ("shopify_products.csv", "shopify"),
        ("shopify_products_template.csv", "shopify"),
        ("gmc_local_inventory.tsv", "gmc_local"),
    ],
)
def test_format_is_detected(name: str, fmt: str) -> None:
    assert detect((FIXTURES / name).read_bytes()[:65536]) == fmt


def test_gmc_tsv_groups_variants_and_reports_each_bad_row() -> None:
    result = parse("gmc_products.tsv")
    assert result.rows == 12
    assert errors(result) == [
        (7, "BAD-PRICE", "price", "no amount in 'abc EUR'"),
        (8, None, "id", "is required"),
        (9, "BAD-AVAIL", "availability", "unknown value 'maybe'"),
        (10, "TEE-2002", "id", "appears more than once in this file"),
        (11, "BAD-SALE", "sale_price", "must be between 0 and price"),
        (12, "BAD-DECIMALS", "price", "19.999 has more than 2 decimals for EUR"),
        (13, "SHORT-ROW", None, "has 3 columns, the header has 21"),
    ]
    dress, tee = result.products
    assert dress.external_id == "DRS-1001" and dress.title == "Linnen midi-jurk"
    assert dress.category == "Dames > Kleding > Jurken"
    assert dress.brand == "Noordzee Atelier"
    assert dress.attributes["material"] == "linen" and dress.attributes["gender"] == "female"
    assert dress.images == [
        "https://shop.example/img/drs-1001-red.jpg",
        "https://shop.example/img/drs-1001-red-back.jpg",
        "https://shop.example/img/drs-1001-detail.jpg",
        "https://shop.example/img/drs-1001-blue.jpg",
    ]
    assert [(v.external_id, v.colour, v.size, v.availability) for v in dress.variants] == [
        ("DRS-1001-RED-S", "Red", "S", "in_stock"),
        ("DRS-1001-RED-M", "Red", "M", "in_stock"),
        ("DRS-1001-BLU-S", "Blue", "S", "out_of_stock"),
        ("DRS-1001-BLU-M", "Blue", "M", "preorder"),
    ]
    red = dress.variants[0]
    assert red.price == Money(8995, "EUR") and red.sale_price == Money(6995, "EUR")
    assert red.gtin == "8712345000011"
    assert tee.external_id == "TEE-2002" and len(tee.variants) == 1  # the duplicate was dropped


def test_gmc_rss_and_atom_xml() -> None:
    rss = parse("gmc_products.xml")
    assert errors(rss) == [
        (4, None, "id", "is required"),
        (5, "BAD-XML-PRICE", "price", "not a price: 'twenty EUR'"),
    ]
    jacket, scarf = rss.products
    assert jacket.title == "Waxed cotton jacket"  # the shared colour and size words dropped
    assert jacket.description.endswith("corduroy collar & two flap pockets.")
    assert jacket.link == "https://shop.example/p/waxed-jacket?v=navy-m"
    assert jacket.attributes["google_product_category"].startswith("Apparel & Accessories >")
    assert len(jacket.images) == 3
    assert jacket.variants[1].sale_price == Money(19900, "EUR")
    assert (
        scarf.title == "Écharpe en laine mérinos" and scarf.variants[0].availability == "in_stock"
    )
    assert scarf.description == "Fine merino <b>scarf</b>, 180 \u00d7 30 cm."
    atom = parse("gmc_products_atom.xml")
    assert not atom.errors
    (bag,) = atom.products
    assert (bag.title, bag.link, bag.description) == (
        "Leather tote bag",
        "https://shop.example/p/tote",
        "Full-grain leather tote with an inner zip pocket.",
    )


def test_truncated_xml_is_refused_whole() -> None:
    with pytest.raises(FeedError, match=r"not well-formed XML.*nothing was imported"):
        parse("gmc_truncated.xml")


def test_meta_csv_skips_the_help_row_and_reads_quantities_and_status() -> None:
    result = parse("meta_catalog.csv")
    assert errors(result) == [
        (7, "NEG-QTY", "quantity", "must be a whole number of at least 0"),
        (8, "NO-TITLE", "title", "is required"),
        (9, "BAD-CUR", "price", "unknown currency 'EUX'"),
    ]
    sneaker, beanie, parka = result.products
    assert sneaker.title == "Canvas sneaker"
    assert sneaker.description == (
        'Low-top canvas sneaker with a vulcanised rubber sole, "classic" fit.'
    )
    assert [(v.external_id, v.quantity, v.availability) for v in sneaker.variants] == [
        ("SNK-300-WHT-40", 12, "in_stock"),
        ("SNK-300-WHT-41", 3, "in_stock"),
        ("SNK-300-BLK-41", 0, "out_of_stock"),
    ]
    assert sneaker.variants[1].sale_price == Money(4900, "EUR")
    assert len(sneaker.images) == 4
    assert beanie.variants[0].availability == "backorder"  # "available for order"
    assert parka.published is False  # status: archived


def test_shopify_export_groups_rows_by_handle() -> None:
    result = parse("shopify_products.csv", currency="EUR")
    assert errors(result) == [
        (8, "no-title-product", "Title", "is required on a product's first row"),
        (9, "no-title-product", None, "belongs to a product whose first row was rejected"),
        (10, "wide-leg-trousers", "Options", "a variant with these options already exists"),
        (11, "wide-leg-trousers", "Variant Inventory Qty", "must be a whole number"),
        (12, "wide-leg-trousers", "Variant Price", "not an amount: 'eighty'"),
    ]
    trousers, gift, coat = result.products
    assert trousers.title == "Wide-leg trousers" and trousers.brand == "Polder Studio"
    assert trousers.description.startswith("<p>Wide-leg trousers in <strong>organic</strong>")
    assert '"relaxed" fit' in trousers.description  # quotes and a newline inside the cell
    assert trousers.category == "Apparel & Accessories > Clothing > Pants"
    assert trousers.attributes["tags"] == ["cotton", "organic", "wide leg"]
    assert trousers.images == [
        "https://cdn.shop.example/files/wlt-sand.jpg",
        "https://cdn.shop.example/files/wlt-back.jpg",
        "https://cdn.shop.example/files/wlt-detail.jpg",
    ]
    sand_s, sand_m, black_m = trousers.variants
    assert sand_s.external_id == "wide-leg-trousers/Sand/S"
    assert sand_s.options == {"Color": "Sand", "Size": "S"}
    assert (sand_s.colour, sand_s.size, sand_s.sku) == ("Sand", "S", "WLT-SAND-S")
    # On sale: Compare At Price is the regular price, Variant Price the sale price.
    assert sand_s.price == Money(9900, "EUR") and sand_s.sale_price == Money(7900, "EUR")
    assert (sand_s.quantity, sand_s.availability) == (4, "in_stock")
    assert (sand_m.quantity, sand_m.availability) == (0, "out_of_stock")
    assert black_m.sale_price is None and black_m.price == Money(8900, "EUR")
    assert gift.variants[0].external_id == "gift-card" and gift.variants[0].options == {}
    assert coat.published is False  # Published FALSE / Status draft


def test_shopify_current_template_headers() -> None:
    result = parse("shopify_products_template.csv", currency="EUR")
    assert errors(result) == [(5, "ribbed-cardigan", "Variant Price", "is required for a variant")]
    (cardigan,) = result.products
    assert cardigan.category == "Apparel & Accessories > Clothing > Outerwear > Cardigans"
    assert [(v.colour, v.size, v.quantity) for v in cardigan.variants] == [
        ("Oatmeal", "S", 5),
        ("Oatmeal", "M", 0),
    ]
    assert cardigan.variants[1].sale_price == Money(11900, "EUR")
    assert cardigan.images == [
        "https://cdn.shop.example/files/card-oat.jpg",
        "https://cdn.shop.example/files/card-detail.jpg",
    ]


def test_shopify_prices_take_the_given_currency() -> None:
    result = parse("shopify_products.csv", currency="JPY")
    assert result.products[0].variants[0].price == Money(99, "JPY")


def test_local_inventory_feed() -> None:
    result = parse("gmc_local_inventory.tsv")
    assert result.stock == [
        (2, "AMS-01", "DRS-1001-RED-S", 3),
        (3, "AMS-01", "DRS-1001-RED-M", 0),
        (4, "UTR-01", "DRS-1001-RED-S", 1),  # availability in_stock without a quantity
        (6, "NOPE-99", "TEE-2002", 5),  # unknown stores are reported when applied
        (7, "AMS-01", "UNKNOWN-ID", 5),
    ]
    assert errors(result) == [
        (5, "TEE-2002", "quantity", "must be a whole number of at least 0"),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"name,price\nx,1\n", "cannot tell the feed format"),
        (b"\xff\xfeid\ttitle\n", "not UTF-8"),
        (b"<?xml version='1.0'?><rss><channel></channel></rss>", "no <item>"),
    ],
)
def test_unreadable_files_are_refused(data: bytes, problem: str) -> None:
    with pytest.raises(FeedError, match=problem):
        parse_feed(io.BytesIO(data))
