"""An in-memory lexical index of one workspace's published products.

Documents are products; filters and facets look at their variants. Postings are compact
arrays (document number, weight) per term. Replacing a product marks its old document dead
and appends a new one, so incremental refreshes never rewrite postings; the engine rebuilds
the whole index when too many documents are dead.

Matching per query word: the exact term, terms it is a prefix of (``sneak`` → ``sneaker``),
and terms within a small edit distance (``jakcet`` → ``jacket``; one edit up to 7 letters, two
beyond), each at a lower weight. Every word must match; when no product matches them all, the
products matching the most words are returned (``relaxed``).
"""

from __future__ import annotations

import bisect
import heapq
import math
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from itertools import chain
from typing import Any

from toonbank.commerce.money import Money, exponent
from toonbank.commerce.search.port import ProductHit, SearchQuery, SearchResult, VariantHit
from toonbank.commerce.search.synonyms import related
from toonbank.commerce.search.text import (
    COLOURS,
    STOPWORDS,
    colour_key,
    compounds,
    deletes,
    edit_distance,
    fold,
    size_key,
    term,
    terms,
    tokens,
)

WEIGHTS = {
    "title": 3.0,
    "code": 3.0,
    "translation": 2.5,
    "brand": 2.0,
    "category": 1.5,
    "option": 1.5,
    "attribute": 1.0,
    "description": 0.4,
}
DESCRIPTION_WORDS = 60
PREFIX_QUALITY = 0.75
FUZZY_QUALITY = {1: 0.6, 2: 0.4}
SYNONYM_QUALITY = 0.9
"""A word of the same cross-lingual group (``Hose`` → ``trousers``), see ``synonyms.py``."""
MAX_EXPANSIONS = 40


@dataclass(slots=True)
class VariantDoc:
    id: str
    title: str
    colour: str | None
    size: str | None
    colours: tuple[str, ...]
    size_key: str | None
    price: int
    regular: int
    currency: str
    availability: str
    stock: int | None = None
    doc: int = -1
    in_stock: bool = False

    def __post_init__(self) -> None:
        self.set_stock(self.stock)

    def set_stock(self, quantity: int | None) -> None:
        """Sellable units over all locations; without stock rows the feed's availability."""
        self.stock = quantity
        self.in_stock = quantity > 0 if quantity is not None else self.availability == "in_stock"


@dataclass(slots=True)
class ProductDoc:
    id: str
    external_id: str
    title: str
    translations: dict[str, str]
    brand: str | None
    category: str | None
    category_keys: frozenset[str]
    image: str | None
    variants: list[VariantDoc]
    colours: frozenset[str] = frozenset()
    sizes: frozenset[str] = frozenset()
    alive: bool = True


@dataclass
class _Filters:
    colours: frozenset[str]
    sizes: frozenset[str]
    category: str | None
    brand: str | None
    price_min: Decimal | None
    price_max: Decimal | None
    currency: str | None
    in_stock: bool
    _minor: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def on_variants(self) -> bool:
        return bool(
            self.colours
            or self.sizes
            or self.in_stock
            or self.price_min is not None
            or self.price_max is not None
        )

    @property
    def exact_per_product(self) -> bool:
        """One variant-level filter that the per-product sets answer exactly (a product has
        a red variant, or an M, or one in stock), so only the shown hits need their variants
        checked. Two such filters must hold for the same variant, which the sets cannot tell."""
        active = [bool(self.colours), bool(self.sizes), self.in_stock]
        no_price = self.price_min is None and self.price_max is None
        return no_price and sum(active) == 1

    def price_ok(self, variant: VariantDoc) -> bool:
        if self.price_min is None and self.price_max is None:
            return True
        if self.currency and variant.currency != self.currency:
            return False
        low, high = self._bounds(variant.currency)
        return low <= variant.price <= high

    def _bounds(self, currency: str) -> tuple[float, float]:
        """The price range in ``currency``'s minor units (computed once per currency)."""
        cached = self._minor.get(currency)
        if cached is None:
            exp = exponent(currency)
            low = self.price_min.scaleb(exp) if self.price_min is not None else None
            high = self.price_max.scaleb(exp) if self.price_max is not None else None
            cached = self._minor[currency] = (
                math.ceil(low) if low is not None else -math.inf,
                math.floor(high) if high is not None else math.inf,
            )
        return cached


@dataclass
class CatalogIndex:
    docs: list[ProductDoc] = field(default_factory=list)
    by_product: dict[str, int] = field(default_factory=dict)
    by_variant: dict[str, VariantDoc] = field(default_factory=dict)
    postings: dict[str, tuple[array[int], array[float]]] = field(default_factory=dict)
    vocabulary: list[str] = field(default_factory=list)
    _deletes: dict[str, list[str]] = field(default_factory=dict)
    alive_docs: set[int] = field(default_factory=set)
    stocked: set[int] = field(default_factory=set)
    colour_docs: dict[str, set[int]] = field(default_factory=dict)
    size_docs: dict[str, set[int]] = field(default_factory=dict)
    category_docs: dict[str, set[int]] = field(default_factory=dict)
    category_path_docs: dict[str, set[int]] = field(default_factory=dict)
    brand_docs: dict[str, set[int]] = field(default_factory=dict)
    brand_label_docs: dict[str, set[int]] = field(default_factory=dict)
    revision: int = 0
    synonyms: bool = True
    """Match the words of a query word's cross-lingual group (off only to measure the gain)."""
    bulk: bool = False
    """While true, new terms are appended to the vocabulary unsorted (see ``finish_bulk``)."""

    @property
    def alive(self) -> int:
        return len(self.alive_docs)

    # -- building ----------------------------------------------------------------------------
    @property
    def dead_ratio(self) -> float:
        return 1 - self.alive / len(self.docs) if self.docs else 0.0

    def remove(self, product_id: str) -> None:
        number = self.by_product.pop(product_id, None)
        if number is None:
            return
        doc = self.docs[number]
        doc.alive = False
        for index, keys in self._memberships(doc):
            for key in keys:
                members = index.get(key)
                if members is not None:
                    members.discard(number)
                    if not members:
                        del index[key]
        self.alive_docs.discard(number)
        self.stocked.discard(number)
        for variant in doc.variants:
            if self.by_variant.get(variant.id) is variant:
                del self.by_variant[variant.id]

    def _memberships(self, doc: ProductDoc) -> list[tuple[dict[str, set[int]], Iterable[str]]]:
        brand = [fold(doc.brand).strip()] if doc.brand else []
        return [
            (self.colour_docs, doc.colours),
            (self.size_docs, doc.sizes),
            (self.category_docs, doc.category_keys),
            (self.category_path_docs, [doc.category] if doc.category else []),
            (self.brand_docs, brand),
            (self.brand_label_docs, [doc.brand] if doc.brand else []),
        ]

    def add(self, product: Mapping[str, Any], variants: Sequence[Mapping[str, Any]]) -> None:
        """Index one published product (a row mapping) and its published variants."""
        if not variants:
            return
        self.remove(product["id"])
        docs = [self._variant(v) for v in sorted(variants, key=lambda v: v["position"])]
        translations = {
            lang: str(value.get("title"))
            for lang, value in (product.get("translations") or {}).items()
            if isinstance(value, Mapping) and value.get("title")
        }
        category = product.get("category")
        doc = ProductDoc(
            id=product["id"],
            external_id=product["external_id"],
            title=product["title"],
            translations=translations,
            brand=product.get("brand"),
            category=category,
            category_keys=_category_keys(category),
            image=(product.get("images") or [None])[0],
            variants=docs,
            colours=frozenset(c for v in docs for c in v.colours),
            sizes=frozenset(v.size_key for v in docs if v.size_key),
        )
        number = len(self.docs)
        self.docs.append(doc)
        self.by_product[doc.id] = number
        self.alive_docs.add(number)
        for index, keys in self._memberships(doc):
            for key in keys:
                index.setdefault(key, set()).add(number)
        for variant in docs:
            variant.doc = number
            self.by_variant[variant.id] = variant
        if any(v.in_stock for v in docs):
            self.stocked.add(number)
        self._post_all(number, self._weights(product, docs))

    def _variant(self, row: Mapping[str, Any]) -> VariantDoc:
        sale = row.get("sale_price_minor")
        return VariantDoc(
            id=row["id"],
            title=row["title"],
            colour=row.get("colour"),
            size=row.get("size"),
            colours=tuple(colour_key(row.get("colour"))),
            size_key=size_key(row.get("size")),
            price=sale if sale is not None else row["price_minor"],
            regular=row["price_minor"],
            currency=row["currency"],
            availability=row["availability"],
            stock=row.get("stock"),
        )

    @staticmethod
    def _weights(product: Mapping[str, Any], variants: list[VariantDoc]) -> dict[str, float]:
        """Term → field weight (the highest field a term appears in)."""
        weights: dict[str, float] = {}
        get = weights.get
        fields: list[tuple[Iterable[str], float]] = [
            (terms(product["title"]), WEIGHTS["title"]),
            (compounds(product["title"]), WEIGHTS["title"]),
            (terms(product.get("brand")), WEIGHTS["brand"]),
            (terms(product.get("category")), WEIGHTS["category"]),
            (terms(product.get("description"))[:DESCRIPTION_WORDS], WEIGHTS["description"]),
            (tokens(product["external_id"]), WEIGHTS["code"]),
        ]
        for value in (product.get("translations") or {}).values():
            if isinstance(value, Mapping):
                fields.append((terms(value.get("title")), WEIGHTS["translation"]))
                fields.append((compounds(value.get("title")), WEIGHTS["translation"]))
                description = terms(value.get("description"))[:DESCRIPTION_WORDS]
                fields.append((description, WEIGHTS["description"]))
        attributes = product.get("attributes") or {}
        for key in ("material", "gender", "pattern", "product_type", "tags", "age_group"):
            value = attributes.get(key)
            if isinstance(value, list):
                value = " ".join(str(v) for v in value)
            if value:
                fields.append((terms(str(value)), WEIGHTS["attribute"]))
        for variant in variants:
            fields.append((variant.colours, WEIGHTS["option"]))
            fields.append((terms(variant.colour), WEIGHTS["option"]))
            fields.append((terms(variant.size), WEIGHTS["option"] / 2))
        for names, weight in fields:
            for name in names:
                if get(name, 0.0) < weight:
                    weights[name] = weight
        return weights

    def _post_all(self, number: int, weights: dict[str, float]) -> None:
        postings = self.postings
        for name, weight in weights.items():
            entry = postings.get(name)
            if entry is None:
                entry = postings[name] = (array("i"), array("f"))
                self._new_term(name)
            entry[0].append(number)
            entry[1].append(weight)

    def _new_term(self, name: str) -> None:
        if self.bulk:
            self.vocabulary.append(name)  # sorted once when the bulk load ends
        else:
            bisect.insort(self.vocabulary, name)
        if len(name) >= 4 and name.isalpha():  # codes and numbers are not typo-corrected
            for deleted in deletes(name):
                self._deletes.setdefault(deleted, []).append(name)

    def finish_bulk(self) -> None:
        self.vocabulary.sort()
        self.bulk = False

    def set_stock(self, levels: Mapping[str, int | None]) -> None:
        touched: set[int] = set()
        for variant_id, quantity in levels.items():
            variant = self.by_variant.get(variant_id)
            if variant is not None:
                variant.set_stock(quantity)
                touched.add(variant.doc)
        for number in touched:
            if any(v.in_stock for v in self.docs[number].variants):
                self.stocked.add(number)
            else:
                self.stocked.discard(number)

    # -- matching ----------------------------------------------------------------------------
    def _expand(self, word: str) -> list[tuple[str, float, int]]:
        """(term, quality, edit distance) for one query word: the exact term, terms it is a
        prefix of, the words of its cross-lingual group; else terms within a few edits."""
        base = term(word)
        found: dict[str, tuple[float, int]] = {}
        if base in self.postings:
            found[base] = (1.0, 0)
        if len(base) >= 3 and not base.isdigit() and word not in COLOURS:
            start = bisect.bisect_left(self.vocabulary, base)
            for name in self.vocabulary[start : start + MAX_EXPANSIONS]:
                if not name.startswith(base):
                    break
                found.setdefault(name, (PREFIX_QUALITY, 0))
        for name in (related(base) | related(word)) if self.synonyms else ():
            if name in self.postings:
                found.setdefault(name, (SYNONYM_QUALITY, 0))
        if not found:
            # Typo tolerance for typed words of 4+ letters, on the stem ("bots" → "bot" ~
            # "boot") and on the word as typed.
            for probe_word in dict.fromkeys((base, word)):
                if len(word) < 4 or not probe_word.isalpha():
                    continue
                limit = 1 if len(word) <= 7 else 2
                for name, distance in self._near(probe_word, limit):
                    if name not in found or found[name][1] > distance:
                        found[name] = (FUZZY_QUALITY[distance], distance)
        return [(name, quality, distance) for name, (quality, distance) in found.items()]

    def unknown_words(self, text: str) -> list[str]:
        """Meaningful words of ``text`` (4+ letters) that match nothing lexically: no term,
        prefix, synonym or near spelling. These are the ones worth an embedding lookup."""
        words = [w for w in tokens(text) if w not in STOPWORDS and w not in COLOURS]
        return [
            w for w in dict.fromkeys(words) if len(w) >= 4 and w.isalpha() and not self._expand(w)
        ]

    def _near(self, word: str, limit: int) -> list[tuple[str, int]]:
        """Indexed terms within ``limit`` edits of ``word`` (SymSpell candidates, verified)."""
        probes = {word} | deletes(word)
        if limit == 2:
            probes |= {d for p in list(probes) for d in deletes(p)}
        candidates: set[str] = set()
        for probe in probes:
            if probe in self.postings:
                candidates.add(probe)
            candidates.update(self._deletes.get(probe, ()))
        out = []
        for name in candidates:
            distance = edit_distance(word, name, limit)
            if distance <= limit:
                out.append((name, distance))
        return out

    def _score(self, expansions: list[tuple[str, float, int]]) -> dict[int, float]:
        scores: dict[int, float] = {}
        total = max(self.alive, 1)
        for name, quality, _distance in expansions:
            documents, weights = self.postings[name]
            idf = math.log(1 + total / len(documents))
            factor = idf * quality
            get = scores.get
            for number, weight in zip(documents, weights, strict=True):
                value = factor * weight
                if value > get(number, 0.0):
                    scores[number] = value
        return scores

    # -- querying ----------------------------------------------------------------------------
    def search(
        self,
        query: SearchQuery,
        semantic: Mapping[str, Sequence[tuple[str, float]]] | None = None,
    ) -> SearchResult:
        """Run ``query``. ``semantic`` maps query words the index does not know to indexed
        terms with a quality in (0, 1] (what the embedding model found near them); they are
        used only for words that neither match nor are within a few edits of a term."""
        began = time.perf_counter()
        words = tokens(query.text)
        meaningful = [w for w in words if w not in STOPWORDS] or words
        corrections: dict[str, str] = {}
        interpreted: dict[str, list[str]] = {}
        relaxed = False
        scores: dict[int, float] | None = None
        if meaningful:
            per_word: list[dict[int, float]] = []
            for word in dict.fromkeys(meaningful):
                expansions = self._expand(word)
                if not expansions and semantic and word in semantic:
                    expansions = [
                        (name, quality, 0)
                        for name, quality in semantic[word]
                        if name in self.postings
                    ]
                    if expansions:
                        interpreted[word] = [name for name, _q, _d in expansions]
                elif expansions and all(d > 0 for _n, _q, d in expansions):
                    best = min(expansions, key=lambda e: (e[2], -len(self.postings[e[0]][0])))
                    corrections[word] = best[0]
                else:
                    own = term(word)
                    others = [n for n, _q, _d in expansions if n != own and n in related(own)]
                    if others and own not in self.postings:
                        interpreted[word] = others
                per_word.append(self._score(expansions))
            scores, relaxed = _combine(per_word)
        f = _Filters(
            colours=frozenset(c for value in query.colours for c in colour_key(value)),
            sizes=frozenset(k for value in query.sizes if (k := size_key(value))),
            category=fold(query.category).strip() if query.category else None,
            brand=fold(query.brand).strip() if query.brand else None,
            price_min=query.price_min,
            price_max=query.price_max,
            currency=query.currency.upper() if query.currency else None,
            in_stock=query.in_stock,
        )
        base: set[int] = (
            self.alive_docs.intersection(scores) if scores is not None else self.alive_docs
        )
        constraints = self._constraints(f)
        docs = _restrict(base, constraints, None)
        passing: dict[int, list[VariantDoc] | None] = {}
        lazy = f.exact_per_product
        if f.on_variants and not lazy:
            for number in docs:
                matching = self._matching(self.docs[number], f)
                if matching:
                    passing[number] = matching
        else:
            passing = dict.fromkeys(docs)
        facets = self._facets(base, constraints, passing)
        limit = query.offset + query.limit
        if scores is None:
            ranked = heapq.nsmallest(limit, passing)
            top = [(n, 0.0) for n in ranked[query.offset :]]
        else:
            docs_ = self.docs
            chosen = heapq.nsmallest(limit, passing, key=lambda n: (-scores[n], docs_[n].title, n))
            top = [(n, scores[n]) for n in chosen[query.offset :]]
        hits = [
            self._hit(
                n,
                score,
                self._matching(self.docs[n], f) if lazy else passing[n],
                query.language,
            )
            for n, score in top
        ]
        return SearchResult(
            total=len(passing),
            hits=hits,
            facets=facets,
            corrections=corrections,
            interpreted=interpreted,
            relaxed=relaxed,
            took_ms=(time.perf_counter() - began) * 1000,
        )

    def _constraints(self, f: _Filters) -> dict[str, set[int]]:
        """Document sets that every result must be in, per filter (product level)."""
        out: dict[str, set[int]] = {}
        if f.colours:
            out["colour"] = _union(self.colour_docs.get(c) for c in f.colours)
        if f.sizes:
            out["size"] = _union(self.size_docs.get(s) for s in f.sizes)
        if f.in_stock:
            out["stock"] = self.stocked
        if f.category:
            wanted = f.category
            normalised = " > ".join(p.strip() for p in wanted.split(">"))
            out["category"] = _union(
                self.category_docs.get(k) for k in {wanted, normalised, term(wanted)}
            )
        if f.brand:
            out["brand"] = self.brand_docs.get(f.brand, set())
        return out

    @staticmethod
    def _matching(doc: ProductDoc, f: _Filters) -> list[VariantDoc]:
        """The variants of ``doc`` that pass every variant-level filter."""
        return [
            v
            for v in doc.variants
            if (not f.in_stock or v.in_stock)
            and (not f.colours or not f.colours.isdisjoint(v.colours))
            and (not f.sizes or v.size_key in f.sizes)
            and f.price_ok(v)
        ]

    def _facets(
        self,
        base: set[int],
        constraints: dict[str, set[int]],
        passing: dict[int, list[VariantDoc] | None],
    ) -> dict[str, list[tuple[str, int]]]:
        """Counts of products per value. Colour and size are disjunctive: each counts what
        picking that value would give with every other filter kept."""
        facets: dict[str, list[tuple[str, int]]] = {}
        docs = self.docs
        per_doc: dict[str, Callable[[int], Iterable[str]]] = {
            "colour": lambda n: docs[n].colours,
            "size": lambda n: docs[n].sizes,
            "category": lambda n: [c for c in (docs[n].category,) if c],
            "brand": lambda n: [b for b in (docs[n].brand,) if b],
        }
        for name, index in (("colour", self.colour_docs), ("size", self.size_docs)):
            scope = _restrict(base, constraints, name)
            counts = _count(index, scope, self.alive_docs, per_doc[name])
            if name == "size":
                facets[name] = sorted(counts, key=lambda kv: _size_order(kv[0]))[:40]
            else:
                facets[name] = sorted(counts, key=lambda kv: (-kv[1], kv[0]))[:30]
        result = passing.keys()
        final = result if isinstance(result, set) else set(result)
        for name, index in (
            ("category", self.category_path_docs),
            ("brand", self.brand_label_docs),
        ):
            counts = _count(index, final, self.alive_docs, per_doc[name])
            facets[name] = sorted(counts, key=lambda kv: (-kv[1], kv[0]))[:20]
        stocked = (
            len(final & self.stocked)
            if len(final) > len(self.stocked)
            else len(self.stocked & final)
        )
        facets["availability"] = [("in_stock", stocked), ("out_of_stock", len(final) - stocked)]
        return facets

    def _hit(
        self, number: int, score: float, matching: list[VariantDoc] | None, language: str | None
    ) -> ProductHit:
        doc = self.docs[number]
        variants = matching if matching is not None else doc.variants
        cheapest = min(variants, key=lambda v: v.price)
        return ProductHit(
            id=doc.id,
            external_id=doc.external_id,
            title=doc.translations.get(language, doc.title) if language else doc.title,
            brand=doc.brand,
            category=doc.category,
            image=doc.image,
            score=score,
            price_from=Money(cheapest.price, cheapest.currency),
            in_stock=any(v.in_stock for v in variants),
            variants=[
                VariantHit(
                    id=v.id,
                    title=v.title,
                    colour=v.colour,
                    size=v.size,
                    price=Money(v.price, v.currency),
                    regular_price=Money(v.regular, v.currency),
                    in_stock=v.in_stock,
                    quantity=v.stock,
                )
                for v in variants
            ],
        )


def _union(sets: Iterable[set[int] | None]) -> set[int]:
    out: set[int] = set()
    for item in sets:
        if item:
            out |= item
    return out


def _restrict(base: set[int], constraints: dict[str, set[int]], skip: str | None) -> set[int]:
    sets = [s for name, s in constraints.items() if name != skip]
    if not sets:
        return base
    sets.sort(key=len)
    smallest = sets[0] if len(sets[0]) < len(base) else base
    out = set(smallest)
    for other in [base, *sets]:
        if other is not smallest:
            out &= other
    return out


def _count(
    index: dict[str, set[int]],
    scope: set[int],
    everything: set[int],
    values: Callable[[int], Iterable[str]],
) -> list[tuple[str, int]]:
    """Products per value within ``scope``: set sizes when the scope is everything, a pass
    over the scope when it is tiny, else one C-level set intersection per value."""
    if scope is everything or len(scope) == len(everything):  # a subset of equal size
        return [(value, len(docs)) for value, docs in index.items() if docs]
    if len(scope) < 64:  # a handful of products: look at each
        return list(Counter(chain.from_iterable(values(n) for n in scope)).items())
    counts = []
    for value, docs in index.items():
        n = len(scope & docs) if len(scope) < len(docs) else len(docs & scope)
        if n:
            counts.append((value, n))
    return counts


def _combine(per_word: list[dict[int, float]]) -> tuple[dict[int, float], bool]:
    """Documents matching every word (summed scores); else those matching the most words."""
    if not per_word:
        return {}, False
    ordered = sorted(per_word, key=len)
    common = set(ordered[0])
    for scores in ordered[1:]:
        common.intersection_update(scores)
        if not common:
            break
    if common:
        return {n: sum(s[n] for s in per_word) for n in common}, False
    if len(per_word) == 1:
        return {}, False
    matched: Counter[int] = Counter()
    for scores in per_word:
        matched.update(scores.keys())
    if not matched:
        return {}, False
    most = max(matched.values())
    return {
        n: sum(s.get(n, 0.0) for s in per_word) for n, count in matched.items() if count == most
    }, True


@lru_cache(maxsize=10_000)
def _category_keys(category: str | None) -> frozenset[str]:
    if not category:
        return frozenset()
    parts = [fold(p).strip() for p in category.split(">")]
    keys = set(parts)
    keys.update(" > ".join(parts[: i + 1]) for i in range(len(parts)))
    keys.update(term(p) for p in parts if " " not in p)
    return frozenset(k for k in keys if k)


def _category_match(doc: ProductDoc, wanted: str) -> bool:
    if wanted in doc.category_keys:
        return True
    normalised = " > ".join(p.strip() for p in wanted.split(">"))
    return normalised in doc.category_keys or term(wanted) in doc.category_keys


_SIZES = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL", "3XL", "4XL"]


def _size_order(size: str) -> tuple[int, float, str]:
    if size in _SIZES:
        return (0, float(_SIZES.index(size)), size)
    try:
        return (1, float(size.replace(",", ".")), size)
    except ValueError:
        return (2, 0.0, size)
