"""Small statistics helpers."""

from __future__ import annotations

import math


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of unsorted ``values``; NaN when empty.

    Infinite values (requests never answered) sort last, so a percentile that falls on one
    is infinite: unanswered work is never hidden by leaving it out.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
