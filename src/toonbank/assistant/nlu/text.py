"""Text normalisation shared by the fast path, the phrase cache and the lexicons."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SPECIAL = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "đ": "d"})


def fold(text: str) -> str:
    """Lower case without accents: ``Größe`` -> ``grosse``, ``dziękuję`` -> ``dziekuje``."""
    text = text.lower().translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise(text: str) -> str:
    """The cache key of a message: folded, punctuation dropped, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", fold(text)).split()).replace("_", " ").strip()


def tokens(text: str) -> list[str]:
    return normalise(text).split()
