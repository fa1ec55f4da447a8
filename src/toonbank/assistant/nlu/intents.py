"""Intent classification: nearest examples in embedding space, calibrated, with out-of-scope.

Each intent is represented by its example sentences. A message is represented by its
sentence embedding joined with hashed character n-grams of its folded text (the n-grams catch
typos and shop words the small encoder blurs: "retour", "stornieren", "annul"); weights
``EMBEDDING_WEIGHT``/``1 - EMBEDDING_WEIGHT`` of the cosine similarity. A message's score for
an intent is the mean similarity of its ``K`` nearest examples of that intent; a softmax
with a fitted temperature turns scores into probabilities. Both the temperature and the out-of-scope
threshold are fitted on the training examples themselves by leave-one-out (each example is
classified by all the others), so they follow whatever examples a business brings:

* the temperature minimises the leave-one-out negative log-likelihood (calibration);
* a message is out of scope when the ``other`` examples win, or when its best score is below
  a threshold: the ``IN_SCOPE_QUANTILE`` quantile of the leave-one-out best scores of the
  in-scope examples (so about 98% of messages like the examples are kept in scope).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from toonbank.assistant.nlu.encoders import Encoder, Vectors
from toonbank.assistant.nlu.text import normalise
from toonbank.assistant.taxonomy import OUT_OF_SCOPE

K = 3
DEFAULT_THRESHOLD = 0.70
EMBEDDING_WEIGHT = 0.8
IN_SCOPE_QUANTILE = 2.0  # percent
NGRAM_DIM = 2**13
TEMPERATURES = tuple(round(t, 4) for t in np.geomspace(0.003, 0.1, 40))


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    intent: str
    confidence: float
    similarity: float
    out_of_scope: bool
    ranking: list[tuple[str, float]] = field(default_factory=list)


def examples_digest(examples: Sequence[Example], encoder_name: str) -> str:
    h = hashlib.sha256(encoder_name.encode())
    for e in examples:
        h.update(b"\0" + e.text.encode() + b"\1" + e.intent.encode())
    return h.hexdigest()[:24]


def ngrams(texts: Sequence[str]) -> Vectors:
    """Hashed character 3-5-grams of the folded texts, L2-normalised."""
    out = np.zeros((len(texts), NGRAM_DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        padded = f" {normalise(text)} "
        for n in (3, 4, 5):
            for i in range(len(padded) - n + 1):
                out[row, zlib.crc32(padded[i : i + n].encode()) % NGRAM_DIM] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.maximum(norms, 1e-9)).astype(np.float32)


def features(texts: Sequence[str], embeddings: Vectors) -> Vectors:
    """What the classifier compares: weighted embedding joined with weighted n-grams."""
    a, b = np.sqrt(EMBEDDING_WEIGHT), np.sqrt(1.0 - EMBEDDING_WEIGHT)
    return np.hstack([a * embeddings, b * ngrams(texts)]).astype(np.float32)


class IntentModel:
    """A fitted classifier over ``examples`` (their embeddings computed by ``encoder``)."""

    def __init__(
        self,
        examples: Sequence[Example],
        embeddings: Vectors,
        encoder: Encoder,
        threshold: float | None = None,
    ) -> None:
        if not examples:
            raise ValueError("an intent model needs at least one example")
        self.examples = list(examples)
        self.encoder = encoder
        self.labels = sorted({e.intent for e in self.examples})
        self._label_index = {label: i for i, label in enumerate(self.labels)}
        self._y = np.array([self._label_index[e.intent] for e in self.examples])
        self._e = features([e.text for e in self.examples], np.asarray(embeddings, np.float32))
        self.temperature, fitted = self._fit()
        self.threshold = threshold if threshold is not None else fitted

    # -- scoring --------------------------------------------------------------------------------

    def _scores(self, sims: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Per row of similarities to the examples: score per label (mean of top K)."""
        out = np.full((sims.shape[0], len(self.labels)), -1.0, dtype=np.float32)
        for index in range(len(self.labels)):
            column = sims[:, self._y == index]
            if column.shape[1] == 0:
                continue
            k = min(K, column.shape[1])
            top = -np.partition(-column, k - 1, axis=1)[:, :k]
            out[:, index] = top.mean(axis=1)
        return out

    @staticmethod
    def _softmax(scores: npt.NDArray[np.float32], temperature: float) -> npt.NDArray[np.float64]:
        z = scores.astype(np.float64) / temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        result: npt.NDArray[np.float64] = p / p.sum(axis=1, keepdims=True)
        return result

    def _fit(self) -> tuple[float, float]:
        n = len(self.examples)
        if n < 3 or len(self.labels) < 2:
            return 0.02, DEFAULT_THRESHOLD
        sims = self._e @ self._e.T
        np.fill_diagonal(sims, -1.0)
        scores = self._scores(sims)
        best_t, best_nll = 0.02, float("inf")
        for t in TEMPERATURES:
            p = self._softmax(scores, t)[np.arange(n), self._y]
            nll = float(-np.log(np.maximum(p, 1e-12)).mean())
            if nll < best_nll:
                best_t, best_nll = t, nll
        oos = self._label_index.get(OUT_OF_SCOPE)
        in_scope = self._y != oos
        if in_scope.sum() < 10:
            return best_t, DEFAULT_THRESHOLD
        best = scores[in_scope].max(axis=1)
        return best_t, float(np.percentile(best, IN_SCOPE_QUANTILE))

    # -- prediction -----------------------------------------------------------------------------

    def predict_embedded(self, texts: Sequence[str], embeddings: Vectors) -> list[IntentPrediction]:
        """Predictions for ``texts`` whose sentence embeddings are already known."""
        if len(texts) == 0:
            return []
        scores = self._scores(features(texts, embeddings) @ self._e.T)
        probs = self._softmax(scores, self.temperature)
        oos = self._label_index.get(OUT_OF_SCOPE)
        results = []
        for row_scores, row_probs in zip(scores, probs, strict=True):
            order = np.argsort(-row_probs)
            ranking = [(self.labels[i], round(float(row_probs[i]), 4)) for i in order[:3]]
            top = int(order[0])
            in_scope_best = max(
                (float(s) for i, s in enumerate(row_scores) if i != oos), default=-1.0
            )
            if top == oos:
                results.append(
                    IntentPrediction(
                        OUT_OF_SCOPE, float(row_probs[top]), in_scope_best, True, ranking
                    )
                )
            elif float(row_scores[top]) < self.threshold:
                p_oos = float(row_probs[oos]) if oos is not None else 0.0
                confidence = max(p_oos, 1.0 - float(row_probs[top]))
                results.append(
                    IntentPrediction(OUT_OF_SCOPE, confidence, in_scope_best, True, ranking)
                )
            else:
                results.append(
                    IntentPrediction(
                        self.labels[top],
                        float(row_probs[top]),
                        float(row_scores[top]),
                        False,
                        ranking,
                    )
                )
        return results

    def predict(self, texts: Sequence[str]) -> list[IntentPrediction]:
        return self.predict_embedded(texts, self.encoder.encode(list(texts)))
