"""The generative layer's fact guard: numbers in generated text must come from the context."""

from __future__ import annotations

import pytest

from toonbank.assistant.guard import citations, strip_citations, unsupported_numbers


@pytest.mark.parametrize(
    ("output", "context", "missing"),
    [
        ("It costs €19.99 and ships in 2 days.", ["ships in 1 to 2 days"], ["19.99"]),
        ("Returns within 30 days [1].", ["binnen **30 dagen**"], []),
        ("Order 4412 is on its way.", ["where is order 4412?"], []),
        ("Order 4413 is on its way.", ["where is order 4412?"], ["4413"]),
        ("Price: 49,95 euro", ["49.95 EUR"], []),
        ("Price: 20", ["20.00"], []),
        ("1.234,50 euro", ["1234.50"], []),
        ("20.26", ["2026"], ["20.26"]),
        ("19.99", ["19 or 99"], ["19.99"]),
        ("Delivered on 12/05/2026", ["delivery date 2026-05-12"], []),
        ("Only 3 left!", ["Size 38 is in stock"], ["3"]),
        ("Save 15% today", ["no discount"], ["15"]),
        ("No numbers at all.", [], []),
    ],
)
def test_unsupported_numbers(output: str, context: list[str], missing: list[str]) -> None:
    assert unsupported_numbers(output, context) == missing


def test_citations() -> None:
    text = "Within 30 days [2], free in store [1][2]."
    assert citations(text) == [2, 1]
    assert strip_citations(text) == "Within 30 days, free in store."
