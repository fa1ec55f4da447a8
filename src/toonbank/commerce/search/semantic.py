"""Hybrid search: the lexical engine, plus an embedding model for words the catalog lacks.

Most queries never reach the model: a word that matches an indexed term, a prefix of one, a
word of the cross-lingual synonym table (``synonyms.py``) or a term within a few edits is
handled lexically. Only the rest (``Sommerkleid``, ``cazadora``, ``kurteczka``) are embedded
and compared with the catalog's *concept space*: the synonym table's words and the catalog's
category names, each standing for the indexed terms it names. A word close enough to an anchor
matches that anchor's terms, at a quality that grows with the similarity, inside the same
lexical scoring (field weight x idf x quality), so semantic and lexical matches rank together.

The concept space is built once per catalog revision in a worker thread, re-using vectors of
strings seen before (a process-wide cache), and word lookups go through an LRU cache. Until a
workspace's space is ready, searches are answered lexically; ``prepare`` waits for it.

The encoder is the assistant's (``assistant.nlu.encoders``): the same process-wide model
instance, never a second copy.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import structlog

from toonbank.assistant.nlu.encoders import Encoder, Vectors, default_encoder
from toonbank.commerce.search.index import CatalogIndex
from toonbank.commerce.search.lexical import LexicalSearchEngine
from toonbank.commerce.search.port import SearchQuery, SearchResult
from toonbank.commerce.search.synonyms import WORDS, related
from toonbank.commerce.search.text import fold, term, terms

log = structlog.get_logger(__name__)

THRESHOLD = 0.9
"""Cosine similarity (e5 ``query:`` vectors) an unknown word needs to its closest anchor."""
MIN_Z = 3.9
"""How far (in standard deviations) that anchor must stand above the word's mean similarity
to all anchors: e5-small rates every short word ~0.85 alike, so a nonsense word ("laptop")
is near everything while a real variant ("kurteczka" → "kurtki") stands out."""
MAX_QUALITY = 0.7
"""Quality of a semantic match at similarity 1 (an exact term is 1.0, a synonym 0.9)."""
LRU_SIZE = 4096
_VECTORS: dict[tuple[str, str], np.ndarray] = {}
_VECTORS_LOCK = threading.Lock()
_TOKENS = itertools.count()
_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-concepts")


def _embed(encoder: Encoder, texts: Sequence[str]) -> Vectors:
    """Vectors of ``texts``, computing only those not seen before under this encoder."""
    with _VECTORS_LOCK:
        missing = [t for t in dict.fromkeys(texts) if (encoder.name, t) not in _VECTORS]
    if missing:
        fresh = encoder.encode(missing)
        with _VECTORS_LOCK:
            for text, vector in zip(missing, fresh, strict=True):
                _VECTORS[(encoder.name, text)] = vector
    with _VECTORS_LOCK:
        return np.vstack([_VECTORS[(encoder.name, t)] for t in texts]).astype(np.float32)


@dataclass
class ConceptSpace:
    """Anchor strings of one catalog revision, their vectors and the terms each stands for."""

    revision: int
    token: int
    anchors: list[str]
    targets: list[tuple[str, ...]]
    vectors: Vectors

    @classmethod
    def build(cls, index: CatalogIndex, encoder: Encoder) -> ConceptSpace:
        targets: dict[str, tuple[str, ...]] = {}
        for word in WORDS:
            # Every word of the table is an anchor, also those naming what this catalog lacks
            # (they then match nothing): the similarity statistics stay the same per catalog.
            key = fold(word)
            targets.setdefault(
                key, tuple(n for n in sorted(related(term(key))) if n in index.postings)
            )
        for category in list(index.category_docs):
            names = tuple(n for n in terms(category) if n in index.postings)
            if names and " " not in category and ">" not in category:
                targets.setdefault(category, names)
        anchors = list(targets)
        vectors = _embed(encoder, anchors) if anchors else np.zeros((0, 1), np.float32)
        return cls(index.revision, next(_TOKENS), anchors, [targets[a] for a in anchors], vectors)

    def nearest(self, vector: np.ndarray) -> list[tuple[str, float]]:
        """Indexed terms of the closest anchor, with their quality (empty below threshold)."""
        if not self.anchors:
            return []
        similarities = self.vectors @ vector
        best = int(np.argmax(similarities))
        similarity = float(similarities[best])
        spread = float(similarities.std()) or 1.0
        if similarity < THRESHOLD or (similarity - float(similarities.mean())) / spread < MIN_Z:
            return []
        quality = MAX_QUALITY * similarity
        return [(name, quality) for name in self.targets[best]]  # empty: not in this catalog


class SemanticSearchEngine:
    """A ``SearchEngine``: lexical matching, with the embedding model for unknown words."""

    def __init__(
        self,
        lexical: LexicalSearchEngine,
        encoder: Encoder | Callable[[], Encoder] | None = None,
        *,
        wait_for_model: bool = False,
    ) -> None:
        self.lexical = lexical
        self.wait_for_model = wait_for_model
        """Wait for the concept space when a query needs it (one-shot commands such as the CLI);
        a server answers lexically meanwhile instead."""
        self._encoder_source = encoder or default_encoder
        self._encoder: Encoder | None = None
        self._spaces: dict[str, ConceptSpace] = {}
        self._building: dict[str, Future[None]] = {}
        self._words: OrderedDict[tuple[int, str], list[tuple[str, float]]] = OrderedDict()

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            source = self._encoder_source
            self._encoder = source() if callable(source) else source
        return self._encoder

    async def search(self, workspace_id: str, query: SearchQuery) -> SearchResult:
        index = await self.lexical.index(workspace_id)
        unknown = index.unknown_words(query.text) if query.text else []
        if not unknown:
            return index.search(query)
        space = self._space(workspace_id, index)
        if (space is None or space.revision != index.revision) and self.wait_for_model:
            await self.prepare(workspace_id)
            space = self._spaces.get(workspace_id)
        if space is None:
            return index.search(query)
        semantic = await self._lookup(space, unknown)
        return index.search(query, semantic)

    async def prepare(self, workspace_id: str) -> None:
        """Bring the workspace's index and concept space up to date (waits for both)."""
        index = await self.lexical.index(workspace_id)
        self._space(workspace_id, index)
        future = self._building.get(workspace_id)
        if future is not None:
            await asyncio.wrap_future(future)

    def forget(self, workspace_id: str) -> None:
        self.lexical.forget(workspace_id)
        self._spaces.pop(workspace_id, None)

    def _space(self, workspace_id: str, index: CatalogIndex) -> ConceptSpace | None:
        """The current concept space, or the previous one (or None) while the current one is
        built in the background: a plain thread, so no task outlives the event loop."""
        space = self._spaces.get(workspace_id)
        if space is not None and space.revision == index.revision:
            return space
        future = self._building.get(workspace_id)
        if future is None or future.done():
            self._building[workspace_id] = _BUILDER.submit(self._build, workspace_id, index)
        return space  # the previous revision's space is still a good guide meanwhile

    def _build(self, workspace_id: str, index: CatalogIndex) -> None:
        try:
            space = ConceptSpace.build(index, self.encoder)
        except Exception:
            log.exception("search_concept_space_failed", workspace_id=workspace_id)
            raise
        current = self._spaces.get(workspace_id)
        if current is None or current.revision <= space.revision:
            self._spaces[workspace_id] = space
        log.debug("search_concept_space", workspace_id=workspace_id, anchors=len(space.anchors))

    async def _lookup(
        self, space: ConceptSpace, words: list[str]
    ) -> dict[str, list[tuple[str, float]]]:
        key = space.token
        out: dict[str, list[tuple[str, float]]] = {}
        missing = []
        for word in words:
            cached = self._words.get((key, word))
            if cached is None:
                missing.append(word)
            else:
                self._words.move_to_end((key, word))
                out[word] = cached
        if missing:
            # Query words are not kept in the anchor cache: the LRU bounds what they cost.
            vectors = await asyncio.to_thread(self.encoder.encode, missing)
            for word, vector in zip(missing, vectors, strict=True):
                out[word] = self._words[(key, word)] = space.nearest(vector)
            while len(self._words) > LRU_SIZE:
                self._words.popitem(last=False)
        return out
