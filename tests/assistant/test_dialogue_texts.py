"""The shipped response texts: every key in every language, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from toonbank.assistant.dialogue.texts import FALLBACK, LANGUAGES, catalog, say


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_exists_with_the_same_placeholders(language: str) -> None:
    english, other = catalog(FALLBACK), catalog(language)
    assert set(other) == set(english)
    for key, template in english.items():
        assert fields(other[key]) == fields(template), (language, key)
        assert other[key].strip(), (language, key)


def test_languages_really_differ_and_unknown_falls_back_to_english() -> None:
    greetings = {catalog(language)["greeting"] for language in LANGUAGES}
    assert len(greetings) == len(LANGUAGES)
    assert say("xx", "cart_empty") == "Your cart is empty."
    assert say("nl", "detail_size", size="50") == " in maat 50"
