"""The search port: what the assistant, the REST API and the CLI ask of product search.

The lexical engine (``lexical.py``) is the first implementation; a semantic engine that ranks
with embeddings can replace or wrap it later without changing callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from toonbank.commerce.money import Money


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    colours: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    category: str | None = None
    brand: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    currency: str | None = None
    in_stock: bool = False
    language: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass
class VariantHit:
    id: str
    title: str
    colour: str | None
    size: str | None
    price: Money
    regular_price: Money
    in_stock: bool
    quantity: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "colour": self.colour,
            "size": self.size,
            "price": self.price.to_json(),
            "regular_price": self.regular_price.to_json(),
            "on_sale": self.price.minor < self.regular_price.minor,
            "in_stock": self.in_stock,
            "quantity": self.quantity,
        }


@dataclass
class ProductHit:
    id: str
    external_id: str
    title: str
    brand: str | None
    category: str | None
    image: str | None
    score: float
    price_from: Money
    in_stock: bool
    variants: list[VariantHit] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "title": self.title,
            "brand": self.brand,
            "category": self.category,
            "image": self.image,
            "score": round(self.score, 4),
            "price_from": self.price_from.to_json(),
            "in_stock": self.in_stock,
            "variants": [v.to_json() for v in self.variants],
        }


@dataclass
class SearchResult:
    total: int
    hits: list[ProductHit]
    facets: dict[str, list[tuple[str, int]]]
    corrections: dict[str, str] = field(default_factory=dict)
    """Query words that matched only through typo tolerance → the word they matched."""
    interpreted: dict[str, list[str]] = field(default_factory=dict)
    """Query words the catalog does not contain, matched through the cross-lingual synonym
    table or the embedding model → the indexed terms they stood for (``hose`` → ``trouser``)."""
    relaxed: bool = False
    """No product matched every word; these match most of them."""
    took_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "hits": [h.to_json() for h in self.hits],
            "facets": {
                k: [{"value": v, "count": c} for v, c in vs] for k, vs in self.facets.items()
            },
            "corrections": self.corrections,
            "interpreted": self.interpreted,
            "relaxed": self.relaxed,
            "took_ms": round(self.took_ms, 2),
        }


class SearchEngine(Protocol):
    """Product search over one workspace's published catalog."""

    async def search(self, workspace_id: str, query: SearchQuery) -> SearchResult: ...
