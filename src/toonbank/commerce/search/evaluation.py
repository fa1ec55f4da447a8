"""Search quality: precision@5 and MRR of a ``SearchEngine`` on a test set of queries.

The test set (``bench/data/search_eval.toml``) lists queries in several languages with the
relevant products defined by *criteria* over the sample catalog (``commerce.sample``): garment,
material, style, brand, and variant-level colour, size, price and availability. Relevance is
decided from the generator's own records, never from what the index stores, so the evaluator
does not grade the search with its own reading of the catalog.

precision@5 divides the relevant hits among the first five by ``min(5, relevant products)``, so
a query with three relevant products in the catalog can still score 1.0. MRR is the mean of
``1 / rank`` of the first relevant hit (0 when none is in the first ten).
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from toonbank.commerce import sample
from toonbank.commerce.search.port import SearchEngine, SearchQuery

K = 5
MRR_DEPTH = 10
DEFAULT_CASES = Path(__file__).resolve().parents[4] / "bench" / "data" / "search_eval.toml"


@dataclass(frozen=True)
class Case:
    text: str
    lang: str
    kind: str
    garment: tuple[str, ...] = ()
    material: tuple[str, ...] = ()
    style: tuple[str, ...] = ()
    brand: str | None = None
    colour: tuple[str, ...] = ()
    filters: Mapping[str, Any] = field(default_factory=dict)

    def query(self, limit: int = MRR_DEPTH) -> SearchQuery:
        f = self.filters
        return SearchQuery(
            text=self.text,
            colours=tuple(f.get("colours", ())),
            sizes=tuple(f.get("sizes", ())),
            category=f.get("category"),
            price_min=Decimal(f["price_min"]) if "price_min" in f else None,
            price_max=Decimal(f["price_max"]) if "price_max" in f else None,
            in_stock=bool(f.get("in_stock", False)),
            limit=limit,
        )

    def label(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.filters.items())
        return f"[{self.lang}] {self.text!r}" + (f" ({extra})" if extra else "")


def load_cases(path: Path = DEFAULT_CASES) -> list[Case]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [
        Case(
            text=raw.get("text", ""),
            lang=raw["lang"],
            kind=raw.get("kind", "plain"),
            garment=tuple(raw.get("garment", ())),
            material=tuple(raw.get("material", ())),
            style=tuple(raw.get("style", ())),
            brand=raw.get("brand"),
            colour=tuple(raw.get("colour", ())),
            filters=dict(raw.get("filter", {})),
        )
        for raw in data["query"]
    ]


def _variant_ok(case: Case, position: int, variant: sample.SampleVariant) -> bool:
    f = case.filters
    colour = variant.colour[0]
    price = variant.sale_price if variant.sale_price is not None else variant.price
    if case.colour and colour not in case.colour:
        return False
    if "colours" in f and colour.lower() not in {c.lower() for c in f["colours"]}:
        return False
    if "sizes" in f and variant.size.upper() not in {s.upper() for s in f["sizes"]}:
        return False
    if "price_min" in f and price < Decimal(f["price_min"]):
        return False
    if "price_max" in f and price > Decimal(f["price_max"]):
        return False
    return not (f.get("in_stock") and not sample.available(position, variant))


def is_relevant(case: Case, product: sample.SampleProduct) -> bool:
    """Whether ``product`` answers ``case`` by the case's criteria."""
    garment = product.garment
    if case.garment and garment.en not in case.garment:
        return False
    if "category" in case.filters and case.filters["category"].lower() not in (
        garment.category.lower()
    ):
        return False
    if case.material and product.material not in case.material:
        return False
    if case.style and product.title[0].split()[0] not in case.style:
        return False
    if case.brand and product.brand != case.brand:
        return False
    return any(_variant_ok(case, n, v) for n, v in enumerate(product.variants))


@dataclass
class CaseResult:
    case: Case
    relevant: int
    found: list[bool]
    """Relevance of each returned hit, in rank order (up to ``MRR_DEPTH``)."""

    @property
    def precision(self) -> float:
        if not self.relevant:
            return 0.0
        return sum(self.found[:K]) / min(K, self.relevant)

    @property
    def reciprocal_rank(self) -> float:
        return next((1 / (i + 1) for i, ok in enumerate(self.found) if ok), 0.0)


@dataclass
class Report:
    results: list[CaseResult]

    @property
    def scored(self) -> list[CaseResult]:
        """Cases with at least one relevant product in the catalog (the others are skipped)."""
        return [r for r in self.results if r.relevant]

    def precision(self, results: Iterable[CaseResult] | None = None) -> float:
        chosen = list(self.scored if results is None else results)
        return sum(r.precision for r in chosen) / len(chosen) if chosen else 0.0

    def mrr(self, results: Iterable[CaseResult] | None = None) -> float:
        chosen = list(self.scored if results is None else results)
        return sum(r.reciprocal_rank for r in chosen) / len(chosen) if chosen else 0.0

    def by(self, attribute: str) -> dict[str, list[CaseResult]]:
        groups: dict[str, list[CaseResult]] = defaultdict(list)
        for result in self.scored:
            groups[getattr(result.case, attribute)].append(result)
        return dict(groups)

    def failures(self, below: float = 1.0) -> list[CaseResult]:
        return [r for r in self.scored if r.precision < below]


async def evaluate(
    engine: SearchEngine,
    workspace_id: str,
    catalog: Sequence[sample.SampleProduct],
    cases: Sequence[Case],
) -> Report:
    """Run every case against ``engine`` and grade the hits against ``catalog``."""
    by_group = {product.group: product for product in catalog}
    results = []
    for case in cases:
        relevant = sum(1 for product in catalog if is_relevant(case, product))
        found = await engine.search(workspace_id, case.query())
        flags = []
        for hit in found.hits[:MRR_DEPTH]:
            product = by_group.get(hit.external_id)
            flags.append(product is not None and is_relevant(case, product))
        results.append(CaseResult(case, relevant, flags))
    return Report(results)


async def import_sample(
    db: Any, workspace_id: str, catalog: Sequence[sample.SampleProduct]
) -> None:
    """Import ``catalog`` as the demo does: English GMC feed plus Dutch translations (no stock
    feed, so availability is the feed's, which ``sample.available`` reproduces)."""
    import io

    from toonbank.commerce.imports import ImportOptions, import_feed

    feeds = (
        ("en", ImportOptions(format="gmc", language="en")),
        ("nl", ImportOptions(format="gmc", language="nl", mode="translation")),
    )
    for language, options in feeds:
        buffer = io.StringIO()
        sample.write_gmc(catalog, buffer, language=language)
        await import_feed(db, workspace_id, io.BytesIO(buffer.getvalue().encode()), options)
