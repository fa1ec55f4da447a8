"""An in-memory lexical index of one workspace's published products.

Documents are products; filters and facets look at their variants. Postings are compact
arrays (document number, weight) per term. Replacing a product marks its old document dead
and appends a new one, so incremental refreshes never rewrite postings; the engine rebuilds
the whole index when too many documents are dead.

A query runs on numpy views of those arrays and of the column arrays in ``columns.py`` (one
row per document and per variant): a dense score array per word, boolean masks for filters,
one vectorised pass over the candidate documents' variant rows for the variant-level filters
and the disjunctive facets, ``bincount`` for category and brand facets, and a partial sort
for the top hits. Only the shown hits are turned into Python objects.

Matching per query word: the exact term, terms it is a prefix of (``sneak`` → ``sneaker``),
the words of its cross-lingual group (``synonyms.py``), and terms within a small edit distance
(``jakcet`` → ``jacket``; one edit up to 7 letters, two beyond), each at a lower weight.
Every word must match; when no product matches them all, the products matching the most words
are returned (``relaxed``).
"""

from __future__ import annotations

import bisect
import math
import time
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from toonbank.commerce.money import Money, exponent
from toonbank.commerce.search.columns import OVERFLOW, Columns, Mask
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
    slot: int = -1
    """Row in ``Columns``' variant arrays."""

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
    columns: Columns = field(default_factory=Columns)
    _docs_version: int = 0
    _stock_version: int = 0
    _cache_version: int = -1
    _cache: dict[str, Any] = field(default_factory=dict)

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
        self.columns.kill(number)
        self._docs_version += 1
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
        self.columns.add_doc(doc.colours, doc.sizes, category, doc.brand)
        for variant in docs:
            variant.doc = number
            self.by_variant[variant.id] = variant
            variant.slot = self.columns.add_variant(
                number, variant.price, variant.currency, variant.colours, variant.size_key,
                variant.in_stock,
            )  # fmt: skip
        self._docs_version += 1
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
        self._title_rank()  # computed here, in the builder's thread, not by the first query
        self._stocked()

    def set_stock(self, levels: Mapping[str, int | None]) -> None:
        touched: set[int] = set()
        for variant_id, quantity in levels.items():
            variant = self.by_variant.get(variant_id)
            if variant is not None:
                variant.set_stock(quantity)
                self.columns.set_stock(variant.slot, variant.in_stock)
                self._stock_version += 1
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
        columns = self.columns
        alive = columns.alive()
        words = tokens(query.text)
        meaningful = [w for w in words if w not in STOPWORDS] or words
        corrections: dict[str, str] = {}
        interpreted: dict[str, list[str]] = {}
        relaxed = False
        scores: npt.NDArray[np.float32] | None = None
        base = alive.copy()
        if meaningful:
            per_word: list[list[tuple[str, float, int]]] = []
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
                per_word.append(expansions)
            scores, matched, relaxed = self._score_words(per_word, alive)
            base &= matched
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
        if f.category:
            base &= self._category_mask(f.category)
        if f.brand:
            base &= self._brand_mask(f.brand)
        scopes = self._variant_masks(f, base) if f.on_variants else {}
        final = scopes.get(None, base)
        facets = self._facets(base, final, scopes)
        candidates = np.flatnonzero(final)
        top = self._rank(candidates, scores, query.offset, query.limit)
        hits = [
            self._hit(
                int(n),
                float(scores[n]) if scores is not None else 0.0,
                self._matching(self.docs[n], f) if f.on_variants else None,
                query.language,
            )
            for n in top
        ]
        return SearchResult(
            total=len(candidates),
            hits=hits,
            facets=facets,
            corrections=corrections,
            interpreted=interpreted,
            relaxed=relaxed,
            took_ms=(time.perf_counter() - began) * 1000,
        )

    def _score_words(
        self, per_word: list[list[tuple[str, float, int]]], alive: Mask
    ) -> tuple[npt.NDArray[np.float32], Mask, bool]:
        """Summed scores, the documents matching every word (else the most words), relaxed."""
        size = len(self.docs)
        total = np.zeros(size, dtype=np.float32)
        count = np.zeros(size, dtype=np.int16)
        documents = max(self.alive, 1)
        for expansions in per_word:
            word = np.zeros(size, dtype=np.float32)
            for name, quality, _distance in expansions:
                numbers, weights = self.postings[name]
                docs = np.frombuffer(numbers, dtype=np.int32)
                values = np.frombuffer(weights, dtype=np.float32) * np.float32(
                    math.log(1 + documents / len(numbers)) * quality
                )
                current = word[docs]
                np.maximum(current, values, out=current)
                word[docs] = current
                del docs  # release the buffer views before anything appends
            total += word
            count += word > 0
        count[~alive] = 0
        wanted = len(per_word)
        matched = count == wanted
        if matched.any() or wanted == 1:
            return total, matched, False
        most = int(count.max()) if size else 0
        if most == 0:
            return total, np.zeros(size, dtype=np.bool_), False
        return total, count == most, True

    def _rank(
        self,
        candidates: npt.NDArray[np.intp],
        scores: npt.NDArray[np.float32] | None,
        offset: int,
        limit: int,
    ) -> list[int]:
        """Best first (score, then title, then document number); document order without text."""
        wanted = offset + limit
        if scores is None or len(candidates) == 0:
            return [int(n) for n in candidates[offset:wanted]]
        values = scores[candidates]
        if len(candidates) > wanted:
            # Everything scoring at least the wanted-th best (ties included), then sort those.
            threshold = np.partition(values, len(values) - wanted)[len(values) - wanted]
            keep = values >= threshold
            candidates, values = candidates[keep], values[keep]
        titles = self._title_rank()[candidates]
        order = np.lexsort((candidates, titles, -values))
        return [int(n) for n in candidates[order[offset:wanted]]]

    def _title_rank(self) -> npt.NDArray[np.int32]:
        """Each document's position in title order (recomputed after products change)."""
        cached = self._cache.get("title_rank")
        if (
            cached is None
            or len(cached) != len(self.docs)
            or self._cache_version != self._docs_version
        ):
            titles = [doc.title for doc in self.docs]
            order = sorted(range(len(titles)), key=titles.__getitem__)
            cached = np.empty(len(titles), dtype=np.int32)
            cached[order] = np.arange(len(titles), dtype=np.int32)
            self._cache["title_rank"] = cached
            self._cache_version = self._docs_version
        return cached

    def _category_mask(self, wanted: str) -> Mask:
        """Documents whose category path has ``wanted`` at any level."""
        normalised = " > ".join(p.strip() for p in wanted.split(">"))
        keys = {wanted, normalised, term(wanted)}
        ids = [
            index
            for index, label in enumerate(self.columns.categories.labels)
            if not keys.isdisjoint(_category_keys(label))
        ]
        return np.isin(np.frombuffer(self.columns.doc_category, dtype=np.int32), ids)

    def _brand_mask(self, wanted: str) -> Mask:
        ids = [
            index
            for index, label in enumerate(self.columns.brands.labels)
            if fold(label).strip() == wanted
        ]
        return np.isin(np.frombuffer(self.columns.doc_brand, dtype=np.int32), ids)

    def _variant_masks(self, f: _Filters, base: Mask) -> dict[str | None, Mask]:
        """Documents of ``base`` with a variant passing every variant-level filter (key None),
        and every one but colour / but size (the disjunctive facets' scopes)."""
        columns = self.columns
        colour_bits: int | None = None
        overflow = False
        if f.colours:
            known = [columns.colours.ids[c] for c in f.colours if c in columns.colours.ids]
            overflow = any(i >= OVERFLOW for i in known)
            colour_bits = sum(1 << min(i, OVERFLOW) for i in set(known))
        size_ids = None
        if f.sizes:
            size_ids = [columns.sizes.ids[s] for s in f.sizes if s in columns.sizes.ids]
        price = None
        if f.price_min is not None or f.price_max is not None:
            price = {
                index: f._bounds(currency)
                for currency, index in columns.currencies.ids.items()
                if not f.currency or currency == f.currency
            }
        rows = columns.rows_of(base)
        passed = columns.variant_filters(
            rows, colour_bits=colour_bits, size_ids=size_ids, in_stock=f.in_stock, price=price
        )
        out: dict[str | None, Mask] = {}
        for skip in (None, "colour", "size"):
            kept = [mask for name, mask in passed.items() if name != skip]
            ok = kept[0].copy() if kept else None
            for mask in kept[1:]:
                assert ok is not None
                ok &= mask
            out[skip] = base & columns.docs_of(rows, ok)
        if overflow:  # a rare colour shares the last bit with others: check those exactly
            for number in np.flatnonzero(out[None]):
                if not self._matching(self.docs[number], f):
                    out[None][number] = False
        return out

    def _stocked(self) -> Mask:
        """Documents with a variant in stock (cached until stock or products change)."""
        key = (self._docs_version, self._stock_version)
        cached = self._cache.get("stocked")
        if cached is None or cached[0] != key:
            cached = (
                key,
                self.columns.docs_of(None, np.frombuffer(self.columns.var_stock, dtype=np.bool_)),
            )
            self._cache["stocked"] = cached
        return cached[1]

    def _facets(
        self, base: Mask, final: Mask, scopes: dict[str | None, Mask]
    ) -> dict[str, list[tuple[str, int]]]:
        """Counts of products per value. Colour and size are disjunctive: each counts what
        picking that value would give with every other filter kept."""
        facets: dict[str, list[tuple[str, int]]] = {}
        for name in ("colour", "size"):
            scope = scopes.get(name, base)
            counts = self.columns.bit_counts(name, scope)
            if name == "size":
                facets[name] = sorted(counts, key=lambda kv: _size_order(kv[0]))[:40]
            else:
                facets[name] = sorted(counts, key=lambda kv: (-kv[1], kv[0]))[:30]
        for name in ("category", "brand"):
            counts = self.columns.id_counts(name, final)
            facets[name] = sorted(counts, key=lambda kv: (-kv[1], kv[0]))[:20]
        total = int(np.count_nonzero(final))
        stocked = int(np.count_nonzero(final & self._stocked()))
        facets["availability"] = [("in_stock", stocked), ("out_of_stock", total - stocked)]
        return facets

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
