"""A deterministic sample fashion catalog, written as real feed files.

The demo shop and the benchmark import these through the same importers as a shop's own
feeds: a Google Merchant Center TSV (English), a second one with Dutch titles for the
translation import, and a local inventory feed with stock per store.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

CLOTHING = ("XS", "S", "M", "L", "XL")
SHOES = ("38", "39", "40", "41", "42", "43", "44")
ONE_SIZE = ("One size",)


@dataclass(frozen=True)
class Garment:
    en: str
    nl: str
    category: str
    sizes: Sequence[str]
    price: tuple[int, int]
    gender: str
    materials: tuple[int, ...] = (0, 1, 2, 4, 5, 8)


GARMENTS = (
    Garment("dress", "jurk", "Women > Clothing > Dresses", CLOTHING, (49, 159), "female"),
    Garment("skirt", "rok", "Women > Clothing > Skirts", CLOTHING, (39, 119), "female"),
    Garment("blouse", "blouse", "Women > Clothing > Tops", CLOTHING, (35, 99), "female"),
    Garment("shirt", "overhemd", "Men > Clothing > Shirts", CLOTHING, (39, 119), "male"),
    Garment("t-shirt", "T-shirt", "Unisex > Clothing > T-shirts", CLOTHING, (19, 49), "unisex"),
    Garment("sweater", "trui", "Unisex > Clothing > Knitwear", CLOTHING, (49, 149), "unisex"),
    Garment("cardigan", "vest", "Women > Clothing > Knitwear", CLOTHING, (59, 149), "female"),
    Garment(
        "jacket",
        "jas",
        "Unisex > Clothing > Jackets",
        CLOTHING,
        (89, 299),
        "unisex",
        (3, 4, 5, 6, 1),
    ),
    Garment("coat", "mantel", "Women > Clothing > Coats", CLOTHING, (149, 399), "female"),
    Garment("trousers", "broek", "Men > Clothing > Trousers", CLOTHING, (59, 139), "male"),
    Garment(
        "jeans", "spijkerbroek", "Unisex > Clothing > Jeans", CLOTHING, (69, 149), "unisex", (3,)
    ),
    Garment("shorts", "korte broek", "Men > Clothing > Shorts", CLOTHING, (29, 79), "male"),
    Garment(
        "sneakers", "sneakers", "Unisex > Shoes > Sneakers", SHOES, (69, 169), "unisex", (6, 7, 9)
    ),
    Garment("boots", "laarzen", "Women > Shoes > Boots", SHOES, (119, 279), "female", (6, 7)),
    Garment("loafers", "instappers", "Men > Shoes > Loafers", SHOES, (89, 199), "male", (6, 7)),
    Garment("scarf", "sjaal", "Accessories > Scarves", ONE_SIZE, (25, 89), "unisex", (2, 8, 0)),
    Garment("beanie", "muts", "Accessories > Hats", ONE_SIZE, (19, 45), "unisex", (2, 8, 1)),
    Garment("tote bag", "shopper", "Accessories > Bags", ONE_SIZE, (39, 189), "unisex", (6, 9)),
    Garment("belt", "riem", "Accessories > Belts", ONE_SIZE, (29, 79), "unisex", (6, 7)),
)
TAILORING = (
    Garment(
        "blazer",
        "blazer",
        "Men > Clothing > Blazers",
        ("46", "48", "50", "52", "54"),
        (129, 279),
        "male",
        (2, 4, 0),
    ),
)
"""Tailored jackets in European suit sizes (the demo shop's "blauwe blazer maat 50")."""
STYLES = (
    ("Relaxed", "Relaxed"), ("Slim-fit", "Slim-fit"), ("Oversized", "Oversized"),
    ("Classic", "Klassieke"), ("Cropped", "Korte"), ("Pleated", "Geplooide"),
    ("Wide-leg", "Wijde"), ("Striped", "Gestreepte"), ("Washed", "Gewassen"),
    ("Quilted", "Gewatteerde"), ("Ribbed", "Geribde"), ("Wrap", "Overslag"),
)  # fmt: skip
MATERIALS = (
    ("linen", "linnen"), ("organic cotton", "biologisch katoenen"), ("merino wool", "merinowollen"),
    ("denim", "denim"), ("corduroy", "ribfluwelen"), ("recycled polyester", "gerecyclede"),
    ("leather", "leren"), ("suede", "suède"), ("cashmere", "kasjmier"), ("canvas", "canvas"),
)  # fmt: skip
COLOURS = (
    ("Black", "zwart"), ("White", "wit"), ("Navy", "marineblauw"), ("Red", "rood"),
    ("Olive", "olijfgroen"), ("Camel", "camel"), ("Grey", "grijs"), ("Blue", "blauw"),
    ("Pink", "roze"), ("Sand", "zand"), ("Green", "groen"), ("Brown", "bruin"),
)  # fmt: skip
BRANDS = (
    "Noordzee Atelier", "Polder Studio", "Dutch Canvas Co.", "Zuiderzee Basics", "Maison Escaut",
    "Atelier Amstel", "Duinwind",
)  # fmt: skip
HEADER = (
    "id", "title", "description", "link", "image_link", "availability", "price", "sale_price",
    "brand", "condition", "product_type", "item_group_id", "color", "size", "gender",
    "age_group", "material",
)  # fmt: skip


@dataclass(frozen=True)
class SampleVariant:
    id: str
    colour: tuple[str, str]
    size: str
    price: Decimal
    sale_price: Decimal | None


@dataclass(frozen=True)
class SampleProduct:
    group: str
    title: tuple[str, str]
    description: tuple[str, str]
    garment: Garment
    brand: str
    material: str
    variants: list[SampleVariant]


def products(
    count: int,
    *,
    seed: int = 7,
    max_colours: int = 3,
    max_sizes: int = 5,
    garments: Sequence[Garment] = GARMENTS,
    first: int = 1,
) -> Iterator[SampleProduct]:
    """``count`` products; the same seed gives the same catalog, ids ``TB-{first:06d}`` upwards."""
    rng = random.Random(seed)
    for number in range(first, first + count):
        garment = rng.choice(garments)
        style = rng.choice(STYLES)
        material = MATERIALS[rng.choice(garment.materials)]
        brand = rng.choice(BRANDS)
        low, high = garment.price
        price = Decimal(rng.randrange(low, high + 1)) - Decimal("0.05")
        sale = (price * Decimal("0.7")).quantize(Decimal("1")) - Decimal("0.05")
        on_sale = rng.random() < 0.15
        colours = rng.sample(COLOURS, rng.randint(1, max_colours))
        sizes = list(garment.sizes)
        if len(sizes) > max_sizes:
            start = rng.randrange(0, len(sizes) - max_sizes + 1)
            sizes = sizes[start : start + max_sizes]
        group = f"TB-{number:06d}"
        variants = [
            SampleVariant(
                id=f"{group}-{colour[0].upper()}-{size.replace(' ', '').upper()}",
                colour=colour,
                size=size,
                price=price,
                sale_price=sale if on_sale else None,
            )
            for colour in colours
            for size in sizes
        ]
        title_en = f"{style[0]} {material[0]} {garment.en}"
        title_nl = f"{style[1]} {material[1]} {garment.nl}".replace("  ", " ")
        description_en = (
            f"{style[0]} {garment.en} in {material[0]} by {brand}. "
            f"Made to last, easy to combine, and cut for everyday comfort."
        )
        description_nl = (
            f"{title_nl[0].upper()}{title_nl[1:]} van {brand}. "
            "Gemaakt om lang mee te gaan, makkelijk te combineren en comfortabel voor elke dag."
        )
        yield SampleProduct(
            group, (title_en, title_nl), (description_en, description_nl), garment, brand,
            material[0], variants,
        )  # fmt: skip


def available(position: int, variant: SampleVariant) -> bool:
    """The feed's availability of a product's ``position``-th variant (about 1 in 11 of the
    non-first variants is out of stock; the first never is)."""
    return not (position and zlib.crc32(variant.id.encode()) % 11 == 0)


def write_gmc(items: Sequence[SampleProduct], out: IO[str], *, language: str = "en") -> int:
    """Write a GMC product TSV (``language`` ``en`` or ``nl`` titles); returns rows written."""
    nl = language == "nl"
    out.write("\t".join(HEADER) + "\n")
    rows = 0
    for item in items:
        for index, variant in enumerate(item.variants):
            title = f"{item.title[1 if nl else 0]} {variant.colour[1 if nl else 0]} {variant.size}"
            state = "in_stock" if available(index, variant) else "out_of_stock"
            cells = (
                variant.id, title, item.description[1 if nl else 0],
                f"https://shop.example/p/{item.group.lower()}?v={variant.id.lower()}",
                f"https://shop.example/img/{item.group.lower()}-{variant.colour[0].lower()}.jpg",
                state, f"{variant.price} EUR",
                f"{variant.sale_price} EUR" if variant.sale_price is not None else "",
                item.brand, "new", item.garment.category, item.group, variant.colour[0],
                variant.size, item.garment.gender, "adult", item.material,
            )  # fmt: skip
            out.write("\t".join(cells) + "\n")
            rows += 1
    return rows


def write_local_inventory(
    items: Sequence[SampleProduct], out: IO[str], stores: Sequence[str], *, seed: int = 11
) -> int:
    """A GMC local inventory TSV: a quantity of every variant in every store in ``stores``."""
    rng = random.Random(seed)
    out.write("store_code\tid\tquantity\n")
    rows = 0
    for item in items:
        for variant in item.variants:
            for store in stores:
                out.write(f"{store}\t{variant.id}\t{max(0, rng.randint(-3, 8))}\n")
                rows += 1
    return rows
