"""The cheap path: answers that need no encoder call.

1. Structured replies (buttons, quick replies) carry a payload ``intent:<label>`` with optional
   ``?key=value&…`` entities; they are taken as they are, with confidence 1.
2. Messages of up to ``SHORT`` words made only of well-known chat words ("hi", "thx",
   "merci", "stop", "agent", "tschüss") map to one intent by a keyword table.
3. Messages whose normalised text equals a training example take that example's intent.

Everything else goes to the encoder. A process-wide LRU cache in the engine catches repeats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from toonbank.assistant.nlu.text import tokens

SHORT = 3
PAYLOAD_PREFIX = "intent:"

# Words that alone carry the intent. Fillers may accompany them ("ok thanks bye").
_KEYWORDS: dict[str, str] = {
    "greeting": "hi hello helo hey hiya yo hoi hallo hallo goedemorgen goedemiddag goedenavond "
    "goeiemorgen goedendag moin servus gruezi bonjour bonsoir coucou slt bjr hola holaa buenas "
    "ciao salve buongiorno buonasera ola oi czesc witam witajcie siema dzien dobry buna "
    "salutare neata morning evening afternoon",
    "goodbye": "bye cya goodbye thanks thank thx ty cheers doei bedankt dankjewel dankuwel "
    "tschuss tschus danke merci adios gracias chao grazie arrivederci obrigado obrigada "
    "valeu tchau adeus dziekuje dzieki multumesc mersi revedere",
    "opt_out": "stop unsubscribe stopp uitschrijven afmelden abmelden abbestellen desinscription "
    "desabonner baja cancellami disiscrivimi wypisz dezabonare",
    "human_handover": "human agent medewerker mitarbeiter conseiller operatore operator "
    "konsultant atendente humano humain mensch mens",
}
_FILLERS = set(
    [
        "ok",
        "okay",
        "oke",
        "good",
        "great",
        "so",
        "much",
        "a",
        "lot",
        "very",
        "well",
        "all",
        "thats",
        "that",
        "s",
        "it",
        "and",
        "have",
        "nice",
        "day",
        "good",
        "morning",
        "please",
        "pls",
        "u",
        "you",
        "je",
        "wel",
        "u",
        "hartelijk",
        "voor",
        "de",
        "hulp",
        "bitte",
        "schon",
        "sehr",
        "vielen",
        "beaucoup",
        "bcp",
        "pour",
        "mille",
        "muito",
        "mil",
        "bardzo",
        "frumos",
        "mult",
        "mucho",
        "muchas",
        "tante",
        "tutti",
        "allemaal",
        "zusammen",
        "everyone",
        "there",
        "again",
        "a",
        "todos",
        "de",
        "nuevo",
        "real",
        "echter",
        "un",
        "una",
    ]
)
_WORD_INTENT: dict[str, str] = {}
for _intent, _words in _KEYWORDS.items():
    for _word in _words.split():
        _WORD_INTENT[_word] = _intent


@dataclass(frozen=True, slots=True)
class FastMatch:
    intent: str
    confidence: float
    source: str  # "payload", "keyword" or "phrase"
    entities: dict[str, str] = field(default_factory=dict)


def from_payload(payload: str, known: set[str]) -> FastMatch | None:
    if not payload.startswith(PAYLOAD_PREFIX):
        return None
    label, _, query = payload[len(PAYLOAD_PREFIX) :].partition("?")
    if label not in known:
        return None
    entities = {k: v for k, v in parse_qsl(query, keep_blank_values=False)[:20]}
    return FastMatch(label, 1.0, "payload", entities)


def from_keywords(text: str) -> FastMatch | None:
    words = tokens(text)
    if not words or len(words) > SHORT:
        return None
    intents = {_WORD_INTENT[w] for w in words if w in _WORD_INTENT}
    rest = [w for w in words if w not in _WORD_INTENT and w not in _FILLERS]
    if rest or not intents:
        return None
    if intents == {"greeting", "goodbye"}:
        # "hi thanks" / "ciao grazie": the thanks decides.
        intents = {"goodbye"}
    if len(intents) != 1:
        return None
    return FastMatch(intents.pop(), 0.97, "keyword")
