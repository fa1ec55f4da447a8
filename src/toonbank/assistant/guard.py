"""The fact guard of the generative layer: generated text may not state a number the context
did not contain.

Prices, amounts, stock quantities, order numbers, percentages and dates all contain digits,
so the rule is simple and strict: every number in the output must also occur in the supplied
context (the deterministic reply, the knowledge snippets, the customer's own message).
``49,95`` and ``49.95`` are the same number; ``20`` matches ``20.00``. Numbers written as
words ("five pairs") and month names without a day are not caught — the prompts forbid them
and the deterministic texts never need a model to add them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"\d+(?:[.,\u202f\u00a0 ]\d+)*")
_CITATION = re.compile(r"\[(\d{1,2})\]")
_GROUPED = re.compile(r"^\d{1,3}([.,]\d{3})+([.,]\d{1,2})?$")


def _forms(token: str) -> set[str]:
    """The readings of a number token: ``1.234,50`` → {1234.5, 1.23450…}; compared as
    normalised decimals so ``20`` equals ``20.00``."""
    compact = re.sub(r"[\u202f\u00a0 ]", "", token)
    readings = {compact, compact.replace(",", ".")}
    if _GROUPED.match(compact):  # 1.234,50 / 1,234.50: one of the separators groups thousands
        readings.add(compact.replace(".", "").replace(",", "."))
        readings.add(compact.replace(",", ""))
    forms: set[str] = set()
    for reading in readings:
        try:
            value = Decimal(reading)
        except InvalidOperation:
            continue
        forms.add(format(value.normalize(), "f"))
    # Each digit group on its own too: "12/05/2026" or "order 4412-7" in the context.
    forms.update(str(int(g)) for g in re.findall(r"\d+", compact))
    return forms


def numbers(text: str) -> list[str]:
    """The number tokens of ``text`` (citation markers such as ``[1]`` excluded)."""
    return _NUMBER.findall(_CITATION.sub(" ", text))


def unsupported_numbers(output: str, context: Iterable[str]) -> list[str]:
    """Numbers in ``output`` that none of the ``context`` texts contains."""
    known: set[str] = set()
    for text in context:
        for token in _NUMBER.findall(text):
            known |= _forms(token)
    missing: list[str] = []
    for token in numbers(output):
        compact = re.sub(r"[\u202f\u00a0 ]", "", token)
        whole = _forms(token) - {str(int(g)) for g in re.findall(r"\d+", compact)}
        whole = whole or _forms(token)
        if not (whole & known):
            missing.append(token)
    return missing


def citations(output: str) -> list[int]:
    """The 1-based source numbers cited as ``[n]`` in ``output``, in order of first use."""
    return list(dict.fromkeys(int(n) for n in _CITATION.findall(output)))


def strip_citations(output: str) -> str:
    return " ".join(_CITATION.sub("", output).split()).replace(" .", ".").replace(" ,", ",")
