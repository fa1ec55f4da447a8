"""Language identification: short chat messages, real sentences, sticky conversations."""

from __future__ import annotations

import pytest

from toonbank.assistant.nlu.language import LanguageIdentifier

ID = LanguageIdentifier()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("hoi", "nl"), ("thx", "en"), ("merci", "fr"), ("dzieki", "pl"), ("multumesc", "ro"),
        ("obrigado", "pt"), ("grazie", "it"), ("gracias!", "es"), ("tschüss", "de"),
        ("waar blijft mijn pakketje", "nl"), ("wo bleibt mein Paket", "de"),
        ("ou en est ma commande", "fr"), ("donde esta mi paquete", "es"),
        ("dove e il mio pacco", "it"), ("onde esta a minha encomenda", "pt"),
        ("gdzie jest moja paczka", "pl"), ("unde e coletul meu", "ro"),
        ("where is my package", "en"),
    ],
)  # fmt: skip
def test_identifies_short_and_unaccented_messages(text: str, language: str) -> None:
    assert ID.identify(text).language == language


def test_conversation_language_sticks_unless_clearly_switched() -> None:
    # One or two words never switch a Dutch conversation ("merci" is Flemish too).
    assert ID.identify("merci", previous="nl").language == "nl"
    assert ID.identify("ok thanks", previous="nl").language == "nl"
    assert ID.identify("ok", previous="de").source == "sticky"
    # A clear sentence in another language does.
    switched = ID.identify("where is my order please, it is late", previous="nl")
    assert switched.language == "en" and switched.source != "sticky"
    assert ID.identify("wo ist mein Paket", previous="nl").language == "de"


def test_empty_and_noise_fall_back() -> None:
    assert ID.identify("", previous="it").language == "it"
    assert ID.identify("!!!").language == "en"
    assert 0.0 <= ID.identify("hallo").confidence <= 1.0
