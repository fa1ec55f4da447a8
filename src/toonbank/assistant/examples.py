"""Training examples: the built-in ones shipped as package data, and business CSV files.

Embeddings of a set of examples are computed once and kept in a cache file named after a
digest of the examples and the encoder, so later processes start in milliseconds.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from toonbank.assistant.nlu.encoders import Encoder, Vectors
from toonbank.assistant.nlu.intents import Example, examples_digest
from toonbank.assistant.taxonomy import LANGUAGES

MAX_TEXT = 1000
INTENT_NAME_MAX = 64


class ExampleError(ValueError):
    """A CSV of examples that cannot be read (message names the row)."""


def builtin_examples() -> list[Example]:
    root = resources.files("toonbank.assistant") / "data" / "intents"
    examples: list[Example] = []
    for language in LANGUAGES:
        text = (root / f"{language}.csv").read_text(encoding="utf-8")
        for row in csv.DictReader(io.StringIO(text)):
            examples.append(Example(row["text"].strip(), row["intent"].strip(), language))
    return examples


def _valid_intent(name: str) -> bool:
    return 0 < len(name) <= INTENT_NAME_MAX and all(c.isalnum() or c in "_-." for c in name)


def read_examples(text: str, *, require_intent: bool = True) -> list[Example]:
    """Rows of a CSV with columns ``text,intent[,language]`` (a header row is required)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "text" not in fields or (require_intent and "intent" not in fields):
        raise ExampleError("the CSV needs a header row with columns text,intent[,language]")
    reader.fieldnames = fields
    examples = []
    for number, row in enumerate(reader, start=2):
        body = (row.get("text") or "").strip()
        intent = (row.get("intent") or "").strip()
        language = (row.get("language") or "").strip().lower() or None
        if not body:
            continue
        if len(body) > MAX_TEXT:
            raise ExampleError(f"row {number}: text longer than {MAX_TEXT} characters")
        if require_intent and not _valid_intent(intent):
            raise ExampleError(f"row {number}: intent must be letters, digits, _ - . (max 64)")
        examples.append(Example(body, intent, language))
    return examples


def read_examples_file(path: Path, *, require_intent: bool = True) -> list[Example]:
    return read_examples(path.read_text(encoding="utf-8"), require_intent=require_intent)


def cache_dir() -> Path:
    explicit = os.environ.get("TOONBANK_CACHE_DIR")
    if explicit:
        return Path(explicit) / "nlu"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "toonbank" / "nlu"


def embed_examples(examples: Sequence[Example], encoder: Encoder, *, cache: bool = True) -> Vectors:
    """Embeddings of ``examples``, from the cache file when one matches."""
    path = cache_dir() / f"{examples_digest(examples, encoder.name)}.npy"
    if cache and path.exists():
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape[0] == len(examples):
                return vectors.astype(np.float32)
        except (OSError, ValueError):
            pass
    vectors = encoder.encode([e.text for e in examples])
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
                np.save(f, vectors.astype(np.float32), allow_pickle=False)
            os.replace(f.name, path)
        except OSError:
            pass  # a read-only home only costs the next process a re-encode
    return vectors


def labels_of(examples: Iterable[Example]) -> set[str]:
    return {e.intent for e in examples}
