"""Neutral content → what a phone call can say (or play), and the call's fixed phrases.

A call can only speak. Content that arrives here has already been degraded to the voice
channel's capabilities (:data:`toonbank.channels.twilio_voice.adapter.CAPABILITIES`), so it is
one of: :class:`Text`, :class:`QuickReplies` (≤ 9 options, one keypad digit each),
:class:`Media` or :class:`PaymentLink`. Rules:

- Text is spoken line by line, with web links left out; a text that had links is also sent by
  text message (see :func:`sent_by_text_message`), and the call says so.
- Quick replies are spoken as "Say or press 1 for Small, 2 for Medium, or 3 for Large". The
  caller's answer ("2" on the keypad, "two", "medium") comes back as text and is mapped to the
  option by the pipeline (:func:`toonbank.channels.render.resolve_choice`).
- Audio is played (``<Play>``); pictures, videos and documents are sent by text message (MMS for
  pictures) and the call says so, speaking the caption.
- A payment link is sent by text message; the call speaks its text and the amount.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from toonbank.channels import render
from toonbank.channels.content import (
    Content,
    Media,
    PaymentLink,
    QuickReplies,
    Text,
    options_of,
    preview_text,
)
from toonbank.channels.render import format_money

DEFAULT_LOCALE = "en-US"

LOCALES: dict[str, str] = {
    "en": "en-US",
    "nl": "nl-NL",
    "de": "de-DE",
    "fr": "fr-FR",
    "es": "es-ES",
    "it": "it-IT",
    "pt": "pt-BR",
    "pl": "pl-PL",
    "ro": "ro-RO",
}
"""Speech locale (BCP-47, as ``<Say>``/``<Gather>`` take it) of a conversation language."""

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello! You are speaking with our automated assistant. How can I help you?",
        "agent_hint": "To talk to a person, press 0 at any time.",
        "options": "Say or press {choices}.",
        "choice": "{number} for {title}",
        "or": "or",
        "choose_number": "Say or press the number of your choice.",
        "link_sent": "I have sent you the link by text message.",
        "payment": "To pay {amount}, I have sent you a secure payment link by text message.",
        "media_sent": "I have sent you {kind} by text message.",
        "image": "a picture",
        "video": "a video",
        "file": "a document",
        "audio": "a recording",
        "hold": "One moment, please.",
        "slow": "Sorry, this is taking longer than expected.",
        "not_heard": "Sorry, I didn't catch that. Please say it again, or press a number.",
        "goodbye": "Thank you for calling. Goodbye.",
        "transfer": "I am connecting you to a colleague. One moment, please.",
        "no_answer": "Sorry, no one is available right now. A colleague will get back to you. "
        "Goodbye.",
        "later": "A colleague will get back to you. Goodbye.",
    },
    "nl": {
        "greeting": "Hallo! U spreekt met onze automatische assistent. Waarmee kan ik helpen?",
        "agent_hint": "Druk op elk moment op 0 om met een medewerker te spreken.",
        "options": "Zeg of toets {choices}.",
        "choice": "{number} voor {title}",
        "or": "of",
        "choose_number": "Zeg of toets het nummer van uw keuze.",
        "link_sent": "Ik heb u de link per sms gestuurd.",
        "payment": "Om {amount} te betalen heb ik u een veilige betaallink per sms gestuurd.",
        "media_sent": "Ik heb u {kind} per sms gestuurd.",
        "image": "een afbeelding",
        "video": "een video",
        "file": "een document",
        "audio": "een opname",
        "hold": "Een ogenblik, alstublieft.",
        "slow": "Sorry, dit duurt langer dan verwacht.",
        "not_heard": "Sorry, dat heb ik niet verstaan. Zeg het nog eens, of toets een nummer.",
        "goodbye": "Bedankt voor uw oproep. Tot ziens.",
        "transfer": "Ik verbind u door met een collega. Een ogenblik, alstublieft.",
        "no_answer": "Sorry, er is nu niemand beschikbaar. Een collega neemt contact met u op. "
        "Tot ziens.",
        "later": "Een collega neemt contact met u op. Tot ziens.",
    },
}
"""Fixed phrases of a call, per language; English is the fallback."""

TRANSFER_WORDS = frozenset(
    {
        # en
        "agent",
        "operator",
        "representative",
        "human",
        "person",
        "someone",
        "somebody",
        # nl
        "medewerker",
        "mens",
        "persoon",
        "iemand",
        # de, fr, es, it, pt
        "mitarbeiter",
        "conseiller",
        "operateur",
        "agente",
        "operador",
        "operatore",
        "atendente",
    }
)
"""Words that, in a short utterance ("an agent, please"), ask for a person."""
TRANSFER_DIGIT = "0"
MAX_TRANSFER_WORDS = 8

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_BULLET = re.compile(r"^\s*[•·*-]\s+")
_TRAILING = " .,;:!?\u2026"


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Play:
    url: str


Utterance = Say | Play


def language_of(locale: str | None) -> str:
    """The primary language subtag, lower case ("nl-BE" → "nl")."""
    return (locale or "").replace("_", "-").split("-", 1)[0].strip().lower()


def phrase(key: str, locale: str) -> str:
    """One fixed phrase in the locale's language, falling back to English."""
    return PHRASES.get(language_of(locale), PHRASES["en"]).get(key) or PHRASES["en"][key]


def call_locale(conversation_language: str | None, configured: str | None) -> str:
    """The speech locale for a caller: their conversation's language, else the configured one.

    The configured locale (e.g. ``en-GB``) wins whenever its language is the caller's, so a
    connection keeps its accent; another language gets its usual locale (``nl`` → ``nl-NL``).
    """
    base = (configured or DEFAULT_LOCALE).strip() or DEFAULT_LOCALE
    language = language_of(conversation_language)
    if not language or language == language_of(base):
        return base
    if conversation_language and "-" in conversation_language.replace("_", "-"):
        return conversation_language.replace("_", "-")
    return LOCALES.get(language, base)


def sent_by_text_message(content: Content) -> bool:
    """Whether the voice channel also delivers this item by SMS (links, pictures, documents)."""
    if isinstance(content, PaymentLink):
        return True
    if isinstance(content, Media):
        return content.kind != "audio"
    if isinstance(content, Text):
        return _URL.search(content.text) is not None
    return False


def spoken_options(content: Content) -> list[str]:
    """Option titles a caller may say (speech recognition hints), in keypad order."""
    return [option.title for option in options_of(content)]


def speak(content: Content, locale: str) -> list[Utterance]:
    """What the call says (or plays) for one content item."""
    if isinstance(content, Text):
        return _said(_spoken_text(content.text, locale))
    if isinstance(content, QuickReplies):
        return _said(f"{_spoken_text(content.text, locale)} {_choices(content, locale)}")
    if isinstance(content, Media):
        if content.kind == "audio":
            caption = _spoken_text(content.caption, locale) if content.caption else ""
            return [*_said(caption), Play(url=content.url)]
        kind = phrase(content.kind, locale)
        sent = phrase("media_sent", locale).format(kind=kind)
        caption = _spoken_text(content.caption, locale) if content.caption else ""
        return _said(f"{caption} {sent}")
    if isinstance(content, PaymentLink):
        amount = format_money(content.amount, content.currency)
        text = _spoken_text(content.text, locale) if content.text else ""
        return _said(f"{text} {phrase('payment', locale).format(amount=amount)}")
    return _said(_spoken_text(preview_text(content), locale))


def _said(text: str) -> list[Utterance]:
    text = " ".join(text.split())
    return [Say(text=text)] if text else []


def _choices(content: QuickReplies, locale: str) -> str:
    """ "Say or press 1 for Small, 2 for Medium, or 3 for Large." """
    parts = [
        phrase("choice", locale).format(number=number, title=" ".join(option.title.split()))
        for number, option in enumerate(content.options, 1)
    ]
    word = phrase("or", locale)
    if len(parts) == 1:
        joined = parts[0]
    elif len(parts) == 2:
        joined = f"{parts[0]} {word} {parts[1]}"
    else:
        joined = ", ".join(parts[:-1]) + f", {word} {parts[-1]}"
    return phrase("options", locale).format(choices=joined)


def _spoken_text(text: str, locale: str) -> str:
    """Plain text as one spoken passage: links left out, lines as sentences."""
    had_link = _URL.search(text) is not None
    reply_hint = render.PHRASES.get(language_of(locale), render.PHRASES["en"])["reply_number"]
    sentences: list[str] = []
    for raw in text.splitlines():
        line = _BULLET.sub("", _URL.sub("", raw))
        if line.strip() == reply_hint:
            line = phrase("choose_number", locale)
        line = line.replace(" \u00d7 ", " ").replace(" \u2014 ", ", ").strip(" :-\u2014")
        line = " ".join(line.split())
        if not line:
            continue
        if line[-1] not in ".!?\u2026":
            line += "."
        sentences.append(line)
    if had_link:
        sentences.append(phrase("link_sent", locale))
    return " ".join(sentences)


def wants_a_person(text: str) -> bool:
    """A short utterance asking for a person ("Agent.", "a representative please")."""
    words = [w.strip(_TRAILING) for w in _fold(text).split()]
    words = [w for w in words if w]
    return 0 < len(words) <= MAX_TRANSFER_WORDS and any(w in TRANSFER_WORDS for w in words)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
