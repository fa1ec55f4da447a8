"""The understanding engine: one call turns a customer message into language, intent, entities.

Order of work, cheapest first: structured payload -> keyword rules for short messages ->
exact training phrase -> LRU cache of recent messages -> encoder + intent model. Only the last
step costs a model call, so frequent phrasings never reach the encoder.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from toonbank.assistant.examples import builtin_examples, embed_examples
from toonbank.assistant.nlu import entities as entity_rules
from toonbank.assistant.nlu.encoders import Encoder, Vectors, default_encoder
from toonbank.assistant.nlu.fastpath import from_keywords, from_payload
from toonbank.assistant.nlu.intents import Example, IntentModel, IntentPrediction
from toonbank.assistant.nlu.language import LanguageIdentifier
from toonbank.assistant.nlu.text import normalise
from toonbank.assistant.taxonomy import LANGUAGES, OUT_OF_SCOPE

CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Understanding:
    text: str
    language: str
    language_confidence: float
    intent: str
    confidence: float
    out_of_scope: bool
    entities: dict[str, Any]
    source: str  # payload, keyword, phrase, cache or model
    alternatives: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "language_confidence": round(self.language_confidence, 3),
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
            "out_of_scope": self.out_of_scope,
            "entities": self.entities,
            "source": self.source,
            "alternatives": [{"intent": i, "confidence": c} for i, c in self.alternatives],
        }


class UnderstandingEngine:
    """Understands messages against one set of intent examples (built-in or a business's)."""

    def __init__(
        self,
        examples: Sequence[Example] | None = None,
        encoder: Encoder | None = None,
        languages: Sequence[str] = LANGUAGES,
        default_language: str = "en",
        fast_path: bool = True,
        builtin_rules: bool | None = None,
        extends: UnderstandingEngine | None = None,
    ) -> None:
        """``extends``: another engine whose examples (and their embeddings) come first;
        ``examples`` are then only the additional ones, so only they are encoded."""
        self.encoder: Encoder = (
            extends.encoder if extends is not None else encoder or default_encoder()
        )
        self._custom = examples is not None
        self._extends = extends
        own = list(examples) if examples is not None else builtin_examples()
        self._own_examples = own
        self.examples: list[Example] = [*extends.examples, *own] if extends is not None else own
        self.languages = LanguageIdentifier(languages, default_language)
        self.fast_path = fast_path
        # Keyword rules speak the built-in taxonomy; a business's own set only gets them when
        # it uses the same labels.
        self._rules = builtin_rules if builtin_rules is not None else not self._custom
        self._model: IntentModel | None = None
        self._vectors: Vectors | None = None
        self._lock = threading.Lock()
        self._phrases = self._phrase_table(self.examples)
        self._cache: OrderedDict[str, IntentPrediction] = OrderedDict()
        self._cache_lock = threading.Lock()

    @staticmethod
    def _phrase_table(examples: Sequence[Example]) -> dict[str, str]:
        seen: dict[str, set[str]] = {}
        for e in examples:
            seen.setdefault(normalise(e.text), set()).add(e.intent)
        return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1 and k}

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def model(self) -> IntentModel:
        """The intent model, fitted on first use (embeddings come from the cache file)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    vectors = embed_examples(self._own_examples, self.encoder)
                    if self._extends is not None:
                        vectors = np.vstack([self._extends.vectors(), vectors])
                    self._vectors = vectors
                    self._model = IntentModel(self.examples, vectors, self.encoder)
        return self._model

    def vectors(self) -> Vectors:
        """Sentence embeddings of ``examples`` (row for row)."""
        self.model()
        assert self._vectors is not None
        return self._vectors

    # -- understanding ---------------------------------------------------------------------------

    def understand(
        self,
        text: str,
        previous_language: str | None = None,
        payload: str | None = None,
        today: date | None = None,
    ) -> Understanding:
        return self.understand_many([text], [previous_language], [payload], today)[0]

    def understand_many(
        self,
        texts: Sequence[str],
        previous_languages: Sequence[str | None] | None = None,
        payloads: Sequence[str | None] | None = None,
        today: date | None = None,
    ) -> list[Understanding]:
        """Batch version: messages that need the encoder are encoded together."""
        n = len(texts)
        previous = list(previous_languages or [None] * n)
        payload_list = list(payloads or [None] * n)
        known = set(self.intents)
        decided: dict[int, tuple[IntentPrediction, str, dict[str, Any]]] = {}
        pending: list[int] = []
        for i, text in enumerate(texts):
            payload = payload_list[i]
            if payload:
                match = from_payload(payload, known)
                if match is not None:
                    prediction = IntentPrediction(match.intent, 1.0, 1.0, False)
                    decided[i] = (prediction, "payload", dict(match.entities))
                    continue
            key = normalise(text)
            if not key:
                decided[i] = (IntentPrediction(OUT_OF_SCOPE, 1.0, 0.0, True), "empty", {})
                continue
            if self.fast_path:
                keyword = from_keywords(text) if self._rules else None
                if keyword is not None and keyword.intent in known:
                    prediction = IntentPrediction(keyword.intent, keyword.confidence, 1.0, False)
                    decided[i] = (prediction, "keyword", {})
                    continue
                if key in self._phrases:
                    intent = self._phrases[key]
                    prediction = IntentPrediction(
                        intent, 0.98, 1.0, intent == OUT_OF_SCOPE, [(intent, 0.98)]
                    )
                    decided[i] = (prediction, "phrase", {})
                    continue
                with self._cache_lock:
                    cached = self._cache.get(key)
                    if cached is not None:
                        self._cache.move_to_end(key)
                if cached is not None:
                    decided[i] = (cached, "cache", {})
                    continue
            pending.append(i)
        if pending:
            model = self.model()
            batch = [texts[i] for i in pending]
            predictions = model.predict(batch)
            for i, prediction in zip(pending, predictions, strict=True):
                decided[i] = (prediction, "model", {})
                if self.fast_path:
                    with self._cache_lock:
                        self._cache[normalise(texts[i])] = prediction
                        if len(self._cache) > CACHE_SIZE:
                            self._cache.popitem(last=False)
        results = []
        for i, text in enumerate(texts):
            prediction, source, extra = decided[i]
            guess = self.languages.identify(text, previous[i])
            found = entity_rules.extract(text, guess.language, today) if text.strip() else {}
            found.update(extra)
            results.append(
                Understanding(
                    text=text,
                    language=guess.language,
                    language_confidence=guess.confidence,
                    intent=prediction.intent,
                    confidence=prediction.confidence,
                    out_of_scope=prediction.out_of_scope,
                    entities=found,
                    source=source,
                    alternatives=prediction.ranking,
                )
            )
        return results


_shared: UnderstandingEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> UnderstandingEngine:
    """The process-wide engine over the built-in intents."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = UnderstandingEngine()
        return _shared
