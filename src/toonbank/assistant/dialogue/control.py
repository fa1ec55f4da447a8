"""Conversation control words in the nine languages: never mind, yes/no, corrections, strong
negative sentiment. Matched on folded text (lower case, no accents), whole message or prefix."""

from __future__ import annotations

import re

from toonbank.assistant.nlu.text import fold

_CANCEL = {
    "never mind", "nevermind", "forget it", "cancel", "cancel that", "stop that", "no thanks",
    "laat maar", "laat maar zitten", "vergeet het", "laat maar hoor", "hoeft niet", "nee dank je",
    "vergiss es", "egal", "schon gut", "abbrechen", "nein danke", "lass mal",
    "laisse tomber", "oublie", "oubliez", "annule", "annuler", "non merci", "pas grave",
    "olvidalo", "da igual", "dejalo", "no importa", "cancela", "no gracias",
    "lascia perdere", "non importa", "annulla", "lascia stare", "no grazie",
    "esquece", "esqueca", "deixa para la", "deixa pra la", "nao importa", "nao obrigado",
    "niewazne", "zapomnij", "anuluj", "nie dziekuje", "niewazne dzieki",
    "las-o", "lasa", "lasa asa", "nu mai conteaza", "anuleaza", "nu multumesc",
    "nothing", "nothing else", "niets", "niks", "nichts", "rien", "nada", "niente", "nic",
    "nimic",
}  # fmt: skip
_YES = {
    "yes", "y", "yeah", "yep", "sure", "ok", "okay", "please", "yes please", "do it",
    "ja", "jawel", "graag", "ja graag", "prima", "doe maar", "ja bitte", "gerne", "klar",
    "oui", "oui merci", "d'accord", "si", "claro", "vale", "certo", "va bene", "sim",
    "tak", "jasne", "da", "sigur",
}  # fmt: skip
_NO = {
    "no", "n", "nope", "nee", "neen", "nein", "non", "nao", "nie", "nu",
}  # fmt: skip
_CORRECTION = re.compile(
    r"^(?:no|nee|neen|nein|non|nao|nie|nu|not)\b[\s,.!:;-]+(?:,\s*)?(?P<rest>\S.*)$"
)
_NEGATIVE = {
    "terrible", "awful", "worst", "disgusting", "ridiculous", "unacceptable", "scam", "furious",
    "outrageous", "pathetic", "useless", "schandalig", "belachelijk", "waardeloos", "woedend",
    "oplichters", "oplichting", "onacceptabel", "schrecklich", "unverschamt", "frechheit",
    "inakzeptabel", "betrug", "katastrophe", "inacceptable", "honteux", "scandaleux",
    "arnaque", "lamentable", "inaceptable", "vergonzoso", "estafa", "pesimo", "fatal",
    "vergognoso", "inaccettabile", "truffa", "pessimo", "schifo", "vergonhoso", "inaceitavel",
    "golpe", "okropny", "skandal", "oszustwo", "beznadziejny", "zenujace",
    "groaznic", "inacceptabil", "rusine", "teapa", "jalnic",
}  # fmt: skip


def _key(text: str) -> str:
    return " ".join(re.findall(r"[\w'-]+", fold(text)))


def is_cancel(text: str) -> bool:
    return _key(text) in _CANCEL


def is_yes(text: str) -> bool:
    return _key(text) in _YES


def is_no(text: str) -> bool:
    return _key(text) in _NO


def correction(text: str) -> str | None:
    """The corrected part of "no, size L" / "nee, maat L" (``None`` if not a correction)."""
    match = _CORRECTION.match(fold(text).strip())
    return match["rest"] if match else None


def strongly_negative(text: str) -> bool:
    """Strong negative sentiment: an insult-grade word, or shouting with exclamation marks."""
    words = set(re.findall(r"[\w'-]+", fold(text)))
    shouting = sum(c.isupper() for c in text) > 12 and text.upper() == text and "!" in text
    return bool(words & _NEGATIVE) or shouting


_PRICE = {
    "price", "cost", "costs", "prijs", "kost", "kosten", "preis", "kostet", "prix", "coute",
    "coutent", "precio", "cuesta", "prezzo", "costa", "preco", "custa", "cena", "kosztuje",
    "pret", "much",
}  # fmt: skip
_SHIPPING = {
    "shipping", "delivery", "deliver", "verzending", "bezorging", "verzendkosten", "versand",
    "lieferung", "livraison", "envio", "entrega", "spedizione", "consegna", "dostawa",
    "wysylka", "livrare", "transport", "porto",
}  # fmt: skip


def asks_price(text: str) -> bool:
    """A question about a price that is not about shipping ("how much is it?")."""
    words = set(re.findall(r"[\w'-]+", fold(text)))
    return bool(words & _PRICE) and not words & _SHIPPING
