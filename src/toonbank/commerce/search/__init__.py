"""Product search: the ``SearchEngine`` port and its lexical, in-memory implementation."""

from toonbank.commerce.search.lexical import LexicalSearchEngine
from toonbank.commerce.search.port import (
    ProductHit,
    SearchEngine,
    SearchQuery,
    SearchResult,
    VariantHit,
)

__all__ = [
    "LexicalSearchEngine",
    "ProductHit",
    "SearchEngine",
    "SearchQuery",
    "SearchResult",
    "VariantHit",
]
