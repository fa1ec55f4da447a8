"""Search quality on the multilingual test set (bench/data/search_eval.toml), on a small sample
catalog, against floors well under what the benchmark reports (docs/benchmarks.md)."""

from __future__ import annotations

import pytest

from toonbank.commerce import sample
from toonbank.commerce.money import Money
from toonbank.commerce.search import (
    LexicalSearchEngine,
    ProductHit,
    SearchQuery,
    SearchResult,
    SemanticSearchEngine,
)
from toonbank.commerce.search.evaluation import (
    Case,
    evaluate,
    import_sample,
    is_relevant,
    load_cases,
)
from toonbank.commerce.search.synonyms import related
from toonbank.commerce.search.text import term, tokens
from toonbank.context import Context

# The first test to embed the concept space loads the model and embeds ~350 anchors.
pytestmark = pytest.mark.timeout(300)
CATALOG = list(sample.products(300))


class Oracle:
    """Returns the relevant products first (or nothing): grades the evaluator itself."""

    def __init__(self, empty: bool = False) -> None:
        self.empty = empty
        self.cases = {c.query(): c for c in load_cases()}

    async def search(self, workspace_id: str, query: SearchQuery) -> SearchResult:
        case = self.cases[query]
        hits = [] if self.empty else [p for p in CATALOG if is_relevant(case, p)][: query.limit]
        return SearchResult(
            total=len(hits),
            hits=[
                ProductHit(
                    p.group, p.group, p.title[0], p.brand, None, None, 1.0, Money(0, "EUR"), True
                )
                for p in hits
            ],
            facets={},
        )


def test_the_test_set_is_broad() -> None:
    cases = load_cases()
    assert len(cases) >= 60
    languages = {c.lang for c in cases}
    assert {"en", "nl", "de", "fr", "es", "it", "pt", "pl"} <= languages
    assert {"typo", "filter", "crosslingual", "accent"} <= {c.kind for c in cases}


def test_relevance_follows_the_criteria() -> None:
    case = Case(text="x", lang="en", kind="filter", garment=("dress",), colour=("Red",),
                filters={"sizes": ["M"], "price_max": "100"})  # fmt: skip
    relevant = [p for p in CATALOG if is_relevant(case, p)]
    assert relevant
    for product in CATALOG:
        ok = product.garment.en == "dress" and any(
            v.colour[0] == "Red" and v.size == "M" and (v.sale_price or v.price) <= 100
            for v in product.variants
        )
        assert is_relevant(case, product) is ok


async def test_evaluator_scores_a_perfect_and_an_empty_engine() -> None:
    cases = load_cases()
    perfect = await evaluate(Oracle(), "ws", CATALOG, cases)
    assert perfect.precision() == 1.0 and perfect.mrr() == 1.0
    empty = await evaluate(Oracle(empty=True), "ws", CATALOG, cases)
    assert empty.precision() == 0.0 and empty.mrr() == 0.0


def test_held_out_words_are_not_in_the_synonym_table() -> None:
    held_out = [c for c in load_cases() if c.kind == "heldout"]
    assert len(held_out) >= 20
    for case in held_out:
        assert not any(related(term(word)) for word in tokens(case.text)), case.text


async def test_search_quality_floor(ctx: Context, workspace: dict[str, str]) -> None:
    """The app's engine (lexical + synonyms + embedding model) on a 300-product catalog."""
    await import_sample(ctx.db, workspace["id"], CATALOG)
    assert isinstance(ctx.search, SemanticSearchEngine)
    await ctx.search.prepare(workspace["id"])
    report = await evaluate(ctx.search, workspace["id"], CATALOG, load_cases())
    by_language = {lang: report.precision(results) for lang, results in report.by("lang").items()}
    for language in ("en", "nl", "de", "fr", "es"):
        assert by_language[language] >= 0.8, by_language
    by_kind = {kind: report.precision(results) for kind, results in report.by("kind").items()}
    assert by_kind["typo"] >= 0.75, by_kind
    assert by_kind["filter"] >= 0.8, by_kind
    assert by_kind["crosslingual"] >= 0.85, by_kind
    assert by_kind["heldout"] >= 0.4, by_kind
    assert report.precision() >= 0.8, [r.case.label() for r in report.failures()]


async def test_lexical_engine_alone_misses_other_languages(
    ctx: Context, workspace: dict[str, str]
) -> None:
    """The baseline the hybrid is measured against really does fail cross-lingual queries."""
    await import_sample(ctx.db, workspace["id"], CATALOG)
    engine = LexicalSearchEngine(ctx.db, synonyms=False)
    cases = [c for c in load_cases() if c.kind in ("crosslingual", "heldout")]
    report = await evaluate(engine, workspace["id"], CATALOG, cases)
    assert report.precision() < 0.3
