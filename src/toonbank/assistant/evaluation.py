"""Measuring the engine on labelled messages: accuracy, macro-F1, out-of-scope precision and
recall, language-identification accuracy, a confusion table and throughput.

Rows of the test set whose label is ``other`` -- or, with a training set, a label the training
set does not have -- count as out of scope: the right answer for them is ``other``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from toonbank.assistant.engine import UnderstandingEngine
from toonbank.assistant.nlu.intents import Example
from toonbank.assistant.taxonomy import OUT_OF_SCOPE


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(engine: UnderstandingEngine, test: Sequence[Example]) -> dict[str, Any]:
    if not test:
        raise ValueError("the test set has no rows")
    known = set(engine.intents)
    gold = [e.intent if e.intent in known else OUT_OF_SCOPE for e in test]
    engine.model()  # fit (or load) before timing
    started = time.perf_counter()
    results = engine.understand_many([e.text for e in test])
    seconds = time.perf_counter() - started
    predicted = [r.intent for r in results]

    labels = sorted(set(gold) | set(predicted))
    pairs = Counter(zip(gold, predicted, strict=True))
    per_intent: dict[str, dict[str, float | int]] = {}
    for label in labels:
        tp = pairs[(label, label)]
        fp = sum(n for (g, p), n in pairs.items() if p == label and g != label)
        fn = sum(n for (g, p), n in pairs.items() if g == label and p != label)
        precision, recall, f1 = _f1(tp, fp, fn)
        per_intent[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    scored = [label for label in labels if per_intent[label]["support"]]
    macro_f1 = sum(float(per_intent[label]["f1"]) for label in scored) / max(len(scored), 1)
    oos = per_intent.get(OUT_OF_SCOPE, {"precision": 0.0, "recall": 0.0, "support": 0})
    report: dict[str, Any] = {
        "n": len(test),
        "accuracy": round(sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(test), 4),
        "macro_f1": round(macro_f1, 4),
        "oos_precision": oos["precision"],
        "oos_recall": oos["recall"] if oos["support"] else None,
        "oos_support": oos["support"],
        "per_intent": per_intent,
        "confusion": {
            g: {p: pairs[(g, p)] for p in labels if pairs[(g, p)]} for g in labels if g in gold
        },
        "sources": dict(Counter(r.source for r in results)),
        "messages_per_second": round(len(test) / seconds, 1) if seconds > 0 else None,
        "encoder": engine.encoder.name,
    }
    with_language = [(e, r) for e, r in zip(test, results, strict=True) if e.language]
    if with_language:
        right = sum(e.language == r.language for e, r in with_language)
        report["language_accuracy"] = round(right / len(with_language), 4)
        report["language_n"] = len(with_language)
    return report


def engine_from_training(train: Sequence[Example]) -> UnderstandingEngine:
    """An engine that knows only ``train``'s intents (nothing is stored anywhere)."""
    return UnderstandingEngine(train)
