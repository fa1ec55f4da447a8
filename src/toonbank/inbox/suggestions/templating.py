"""Strict ``{{ variable }}`` substitution for canned responses and learned answers.

No template language on purpose: a reply needs values, not logic, so there is nothing to
sandbox. Only names in :data:`VARIABLES` are substituted; anything else between braces is
reported as unknown (and left as it was), a known variable without a value for this customer
is reported as missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

VARIABLES: Final = (
    "contact.first_name",
    "contact.name",
    "agent.name",
    "agent.first_name",
    "order.number",
    "order.status",
    "order.carrier",
    "order.tracking_number",
    "order.total",
    "cart.items",
    "cart.total",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]{1,64})\s*\}\}")
LEARNABLE: Final = ("order.tracking_number", "order.number", "contact.first_name", "contact.name")
"""Facts that are replaced by their variable when an answer is learned (longest value first)."""
MIN_LEARNABLE = 3


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    unknown: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unknown and not self.missing


def variables_in(template: str) -> list[str]:
    return [m.group(1) for m in _PLACEHOLDER.finditer(template)]


def unknown_variables(template: str) -> list[str]:
    return sorted({name for name in variables_in(template) if name not in VARIABLES})


def render(template: str, values: Mapping[str, str]) -> Rendered:
    """Fill ``template`` with ``values``; unknown and missing names are reported, not raised."""
    unknown: list[str] = []
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in VARIABLES:
            unknown.append(name)
            return match.group(0)
        value = values.get(name)
        if not value:
            missing.append(name)
            return match.group(0)
        return value

    text = _PLACEHOLDER.sub(substitute, template)
    return Rendered(text, sorted(set(unknown)), sorted(set(missing)))


def templatize(text: str, values: Mapping[str, str]) -> str:
    """The reverse of :func:`render` for learning: this customer's facts become variables."""
    pairs = [
        (values[name], name) for name in LEARNABLE if len(values.get(name) or "") >= MIN_LEARNABLE
    ]
    for value, name in sorted(pairs, key=lambda pair: -len(pair[0])):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "{{" + name + "}}", text)
    return text
