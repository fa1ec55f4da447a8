"""The assistant's customer-facing texts: one JSON catalog per language in ``texts/``.

Every catalog has exactly the keys of ``en.json`` (a test checks it); a missing language falls
back to English. Values are ``str.format`` templates.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("en", "nl", "de", "fr", "es", "it", "pt", "pl", "ro")
FALLBACK = "en"


@cache
def catalog(language: str) -> dict[str, str]:
    """The message templates of ``language`` (English when it has no catalog)."""
    if language not in LANGUAGES:
        language = FALLBACK
    path = resources.files("toonbank.assistant.dialogue") / "texts" / f"{language}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def say(language: str, key: str, **values: Any) -> str:
    """One message in ``language`` with ``values`` filled in."""
    template = catalog(language).get(key) or catalog(FALLBACK)[key]
    return template.format(**values)
