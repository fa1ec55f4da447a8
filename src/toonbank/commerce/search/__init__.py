"""Product search: the ``SearchEngine`` port, the lexical in-memory engine and the hybrid
(lexical + embedding model) engine that wraps it."""

from toonbank.commerce.search.lexical import LexicalSearchEngine
from toonbank.commerce.search.port import (
    ProductHit,
    SearchEngine,
    SearchQuery,
    SearchResult,
    VariantHit,
)
from toonbank.commerce.search.semantic import SemanticSearchEngine

__all__ = [
    "LexicalSearchEngine",
    "ProductHit",
    "SearchEngine",
    "SearchQuery",
    "SearchResult",
    "SemanticSearchEngine",
    "VariantHit",
]
