"""Lexical search: typos, accents, plurals, languages, filters, facets, and following the
catalog as it changes (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from toonbank.commerce.catalog import StockUpdate, set_published, set_stock
from toonbank.commerce.imports import ImportOptions, import_feed
from toonbank.commerce.search import SearchQuery, SearchResult, SemanticSearchEngine
from toonbank.commerce.search.text import colour_key, edit_distance, fold, terms, tokens
from toonbank.context import Context

from .helpers import gmc_tsv, item

FIXTURES = Path(__file__).parent / "fixtures"

CATALOG = [
    item("DRS-RED-S", "Linen midi dress red S", "89.95 EUR", group="DRS", colour="Red", size="S",
         sale="69.95 EUR", category="Women > Clothing > Dresses", brand="Noordzee Atelier"),
    item("DRS-RED-M", "Linen midi dress red M", "89.95 EUR", group="DRS", colour="Red", size="M",
         sale="69.95 EUR", category="Women > Clothing > Dresses", brand="Noordzee Atelier"),
    item("DRS-BLU-M", "Linen midi dress blue M", "89.95 EUR", group="DRS", colour="Blue",
         size="M", availability="out_of_stock", category="Women > Clothing > Dresses",
         brand="Noordzee Atelier"),
    item("WRP-BLK-S", "Wrap dress black S", "129.00 EUR", group="WRP", colour="Black", size="S",
         category="Women > Clothing > Dresses", brand="Polder Studio"),
    item("SNK-WHT-42", "Canvas sneakers white 42", "59.00 EUR", group="SNK", colour="White",
         size="42", category="Unisex > Shoes > Sneakers", brand="Dutch Canvas Co."),
    item("SNK-BLK-42", "Canvas sneakers black 42", "59.00 EUR", group="SNK", colour="Black",
         size="42", category="Unisex > Shoes > Sneakers", brand="Dutch Canvas Co."),
    item("ECH-1", "Écharpe en laine mérinos", "45.00 EUR", colour="Camel",
         category="Accessories > Scarves", brand="Maison Escaut"),
    item("JKT-1", "Waxed cotton jacket", "249.00 EUR", colour="Navy", size="L",
         category="Men > Jackets", brand="Noordzee Atelier",
         description="Water-repellent jacket with a corduroy collar"),
    item("TEE-1", "Organic cotton T-shirt", "24.95 EUR", colour="Zwart/Wit", size="M",
         category="Unisex > T-shirts", brand="Zuiderzee Basics"),
]  # fmt: skip


@pytest.fixture
async def shop(ctx: Context, workspace: dict[str, str]) -> str:
    await import_feed(ctx.db, workspace["id"], gmc_tsv(CATALOG), ImportOptions(language="en"))
    dutch = gmc_tsv(
        [
            item("DRS-RED-S", "Linnen midi-jurk rood S", group="DRS"),
            item("SNK-WHT-42", "Canvas sneakers wit 42", group="SNK"),
        ]
    )
    await import_feed(
        ctx.db, workspace["id"], dutch, ImportOptions(mode="translation", language="nl")
    )
    return workspace["id"]


async def find(ctx: Context, ws: str, text: str = "", **filters: object) -> SearchResult:
    return await ctx.search.search(ws, SearchQuery(text=text, **filters))  # type: ignore[arg-type]


def titles(result: SearchResult) -> list[str]:
    return [hit.title for hit in result.hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dress", ["Linen midi dress", "Wrap dress black S"]),
        ("dresses", ["Linen midi dress", "Wrap dress black S"]),  # plural folds
        ("DRESS", ["Linen midi dress", "Wrap dress black S"]),
        ("sneaker", ["Canvas sneakers"]),
        ("echarpe merinos", ["Écharpe en laine mérinos"]),  # accents fold away
        ("ÉCHARPE", ["Écharpe en laine mérinos"]),
        ("jurk", ["Linen midi dress", "Wrap dress black S"]),  # translation first, then synonym
        ("rode dress", ["Linen midi dress"]),  # Dutch colour word → red
        ("zwart t-shirt", ["Organic cotton T-shirt"]),
        ("corduroy", ["Waxed cotton jacket"]),  # description
        ("polder", ["Wrap dress black S"]),  # brand
        ("sjaal scarves", ["Écharpe en laine mérinos"]),  # relaxed: "sjaal" matches nothing
    ],
)
async def test_matching(ctx: Context, shop: str, query: str, expected: list[str]) -> None:
    assert titles(await find(ctx, shop, query)) == expected


@pytest.mark.parametrize(
    ("query", "expected", "corrected"),
    [
        ("jakcet", "Waxed cotton jacket", {"jakcet": "jacket"}),  # transposition
        ("jaket", "Waxed cotton jacket", {"jaket": "jacket"}),  # missing letter
        ("sneekers", "Canvas sneakers", {"sneekers": "sneaker"}),  # wrong letter
        ("orgnaic cotton", "Organic cotton T-shirt", {"orgnaic": "organic"}),
        ("watter-repelent", "Waxed cotton jacket", {"watter": "water", "repelent": "repellent"}),
    ],
)
async def test_typos_are_tolerated_and_reported(
    ctx: Context, shop: str, query: str, expected: str, corrected: dict[str, str]
) -> None:
    result = await find(ctx, shop, query)
    assert titles(result)[0] == expected
    assert result.corrections == corrected


async def test_prefix_matches_while_typing_and_unknown_words_find_nothing(
    ctx: Context, shop: str
) -> None:
    assert titles(await find(ctx, shop, "snea")) == ["Canvas sneakers"]
    empty = await find(ctx, shop, "helicopter")
    assert (empty.total, empty.hits) == (0, [])


async def test_filters_narrow_to_matching_variants(ctx: Context, shop: str) -> None:
    red = await find(ctx, shop, "dress", colours=("rood",))
    assert titles(red) == ["Linen midi dress"]
    assert {v.colour for v in red.hits[0].variants} == {"Red"}
    medium = await find(ctx, shop, "dress", sizes=("m",))
    assert titles(medium) == ["Linen midi dress"]
    assert [(v.colour, v.size) for v in medium.hits[0].variants] == [("Red", "M"), ("Blue", "M")]
    stocked = await find(ctx, shop, "dress", sizes=("M",), in_stock=True)
    assert [(v.colour, v.size) for v in stocked.hits[0].variants] == [("Red", "M")]
    cheap = await find(ctx, shop, "", price_max=Decimal("60"))
    assert set(titles(cheap)) == {"Canvas sneakers", "Écharpe en laine mérinos",
                                  "Organic cotton T-shirt"}  # fmt: skip
    # The sale price counts: the red linen dress costs 69.95 now.
    mid = await find(ctx, shop, "", price_min=Decimal("60"), price_max=Decimal("80"))
    assert titles(mid) == ["Linen midi dress"]
    assert str(mid.hits[0].price_from) == "69.95 EUR"
    assert mid.hits[0].variants[0].regular_price.minor == 8995
    shoes = await find(ctx, shop, "", category="shoes")
    assert titles(shoes) == ["Canvas sneakers"]
    assert titles(await find(ctx, shop, "", category="Women > Clothing")) == [
        "Linen midi dress", "Wrap dress black S"
    ]  # fmt: skip
    assert titles(await find(ctx, shop, "", brand="noordzee atelier")) == [
        "Linen midi dress", "Waxed cotton jacket"
    ]  # fmt: skip
    multi = await find(ctx, shop, "", colours=("white",))  # "Zwart/Wit" has white too
    assert set(titles(multi)) == {"Canvas sneakers", "Organic cotton T-shirt"}


async def test_facets_count_products_and_stay_disjunctive(ctx: Context, shop: str) -> None:
    result = await find(ctx, shop, "dress", colours=("red",))
    facets = result.facets
    # Colour counts ignore the colour filter itself, so other colours stay visible.
    assert dict(facets["colour"]) == {"red": 1, "blue": 1, "black": 1}
    assert dict(facets["size"]) == {"S": 1, "M": 1}  # with the colour filter applied
    assert facets["category"] == [("Women > Clothing > Dresses", 1)]
    assert facets["brand"] == [("Noordzee Atelier", 1)]
    assert facets["availability"] == [("in_stock", 1), ("out_of_stock", 0)]
    everything = await find(ctx, shop, "")
    assert everything.total == 6
    assert dict(everything.facets["size"]) == {"S": 2, "M": 2, "L": 1, "42": 1}
    assert [value for value, _count in everything.facets["size"]] == ["S", "M", "L", "42"]


async def test_pages_and_languages(ctx: Context, shop: str) -> None:
    first = await find(ctx, shop, "", limit=4)
    second = await find(ctx, shop, "", limit=4, offset=4)
    assert len(first.hits) == 4 and len(second.hits) == 2
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}
    dutch = await find(ctx, shop, "sneakers", language="nl")
    assert titles(dutch) == ["Canvas sneakers wit 42"]


async def test_index_follows_imports_unpublishing_and_stock(ctx: Context, shop: str) -> None:
    assert (await find(ctx, shop, "sneakers", in_stock=True)).total == 1
    async with ctx.db.uow() as uow:
        written, errors = await set_stock(
            uow.session,
            shop,
            [
                StockUpdate(location="online", quantity=0, sku="SNK-WHT-42"),
                StockUpdate(location="online", quantity=0, sku="SNK-BLK-42"),
            ],
        )
    assert (written, errors) == (2, [])
    assert (await find(ctx, shop, "sneakers", in_stock=True)).total == 0
    hit = (await find(ctx, shop, "sneakers")).hits[0]
    assert {v.quantity for v in hit.variants} == {0}
    await import_feed(
        ctx.db,
        shop,
        gmc_tsv([item("BOOT-1", "Chelsea boots", "149.00 EUR", colour="Brown", size="41")]),
        ImportOptions(mode="partial"),
    )
    assert titles(await find(ctx, shop, "chelsea")) == ["Chelsea boots"]
    jacket = (await find(ctx, shop, "jacket")).hits[0]
    async with ctx.db.uow() as uow:
        assert await set_published(uow.session, shop, jacket.id, False)
    assert (await find(ctx, shop, "jacket")).total == 0
    async with ctx.db.uow() as uow:
        assert await set_published(uow.session, shop, jacket.id, True)
    assert titles(await find(ctx, shop, "jacket")) == ["Waxed cotton jacket"]


async def test_other_workspaces_are_invisible(ctx: Context, shop: str) -> None:
    from toonbank.workspaces.service import create_workspace

    async with ctx.db.uow() as uow:
        other, _ = await create_workspace(uow.session, ctx.secret_box, ctx.channels, "empty")
    assert (await find(ctx, other.id, "dress")).total == 0
    assert (await find(ctx, other.id, "")).total == 0


def test_text_normalisation() -> None:
    assert fold("Größe Ærø Œuvre") == "grosse aero oeuvre"
    assert terms("Dresses & Shoes, jurken") == ("dress", "shoe", "jurk")
    assert colour_key("Zwart/Wit") == ["black", "white"]
    assert colour_key("Dark Navy") == ["navy"]
    assert colour_key("Dusty Mauve") == ["dusty mauve"]  # unknown colours stay as they are
    assert colour_key("Rouge foncé") == ["red"]
    assert edit_distance("jakcet", "jacket", 2) == 1
    assert edit_distance("kitten", "sitting", 2) == 3  # over the limit


def _row(number: int, title: str, colour: str = "Black") -> tuple[dict[str, object], list[object]]:
    product = {"id": f"p{number}", "external_id": f"SKU-{number:04d}", "title": title,
               "translations": {}, "images": []}  # fmt: skip
    variant = {"id": f"v{number}", "title": title, "colour": colour, "size": "M",
               "price_minor": 1000, "sale_price_minor": None, "currency": "EUR",
               "availability": "in_stock", "position": 0}  # fmt: skip
    return product, [variant]


def test_index_bulk_build_then_incremental_changes() -> None:
    from toonbank.commerce.search.index import CatalogIndex

    index = CatalogIndex(bulk=True)
    for number, title in enumerate(["Chelsea boots", "Leather belt", "Wool coat"]):
        index.add(*_row(number, title))  # type: ignore[arg-type]
    index.finish_bulk()
    assert index.vocabulary == sorted(index.vocabulary)
    bots = index.search(SearchQuery(text="bots"))  # the stem "bot" is too short for typos
    assert [h.title for h in bots.hits] == ["Chelsea boots"] and bots.corrections == {
        "bots": "boot"
    }
    assert [h.title for h in index.search(SearchQuery(text="sku-0001")).hits] == ["Leather belt"]
    index.add(*_row(1, "Suede belt", colour="Brown"))  # type: ignore[arg-type]  # replaces p1
    index.add(*_row(7, "Canvas tote"))  # type: ignore[arg-type]
    assert index.vocabulary == sorted(index.vocabulary)
    assert [h.title for h in index.search(SearchQuery(text="belt")).hits] == ["Suede belt"]
    assert index.search(SearchQuery(text="leather")).total == 0
    assert dict(index.search(SearchQuery()).facets["colour"]) == {"black": 3, "brown": 1}
    index.remove("p0")
    assert index.search(SearchQuery(text="boots")).total == 0
    assert index.alive == 3 and 0 < index.dead_ratio < 1


@pytest.mark.timeout(300)  # the first one loads the model and embeds the concept space
@pytest.mark.parametrize(
    ("query", "expected", "interpreted"),
    [
        ("Kleid", ["Linen midi dress", "Wrap dress black S"], {"kleid": ["dress", "jurk"]}),
        ("robe noire", ["Wrap dress black S"], {"robe": ["dress", "jurk"]}),  # fr, synonym table
        ("zapatillas", ["Canvas sneakers"], {"zapatillas": ["sneaker"]}),
        ("Sommerkleid", ["Linen midi dress", "Wrap dress black S"], None),  # embedding model
        ("kurteczka", ["Waxed cotton jacket"], None),  # pl diminutive, embedding model
    ],
)
async def test_words_in_other_languages_find_products(
    ctx: Context, shop: str, query: str, expected: list[str], interpreted: dict[str, list[str]]
) -> None:
    assert isinstance(ctx.search, SemanticSearchEngine)
    await ctx.search.prepare(shop)
    result = await find(ctx, shop, query)
    assert sorted(titles(result)) == sorted(expected)
    assert result.corrections == {}
    word = tokens(query)[0]
    assert word in result.interpreted
    if interpreted is not None:
        assert {k: sorted(v) for k, v in result.interpreted.items()} == interpreted


@pytest.mark.timeout(300)
async def test_the_embedding_model_does_not_invent_matches(ctx: Context, shop: str) -> None:
    assert isinstance(ctx.search, SemanticSearchEngine)
    await ctx.search.prepare(shop)
    for word in ("laptop", "helicopter", "pizza", "banana"):
        result = await find(ctx, shop, word)
        assert (result.total, result.interpreted) == (0, {}), word


async def test_colours_beyond_the_bit_mask_still_filter_exactly(
    ctx: Context, workspace: dict[str, str]
) -> None:
    """The 64th and later distinct colours share one bit of the column masks; a filter on one
    of them must still return only products that have it."""
    rows = [
        item(f"C-{n}", f"Scarf shade {n}", "20.00 EUR", colour=f"Shade {n}",
             category="Accessories > Scarves")
        for n in range(80)
    ]  # fmt: skip
    await import_feed(ctx.db, workspace["id"], gmc_tsv(rows), ImportOptions(language="en"))
    late = await find(ctx, workspace["id"], "scarf", colours=("Shade 75",))
    assert titles(late) == ["Scarf shade 75"]
    early = await find(ctx, workspace["id"], "", colours=("Shade 3", "Shade 70"))
    assert sorted(titles(early)) == ["Scarf shade 3", "Scarf shade 70"]
    everything = await find(ctx, workspace["id"], "scarf")
    assert everything.total == 80
    assert len(everything.facets["colour"]) == 30  # the top 30 shown
    one = await find(ctx, workspace["id"], "scarf shade 75")
    assert ("shade 75", 1) in one.facets["colour"]  # (labels are normalized)
    sizes = await find(ctx, workspace["id"], "scarf shade 64")  # the first past the mask
    assert dict(sizes.facets["colour"]) == {"shade 64": 1}
