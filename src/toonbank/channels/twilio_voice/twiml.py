"""The TwiML documents a Toonbank call is made of (built with the official ``twilio`` SDK).

Every answer either listens (``<Gather input="dtmf speech">`` with what to say nested inside, so
the caller may interrupt), holds (a short ``<Pause>`` and a ``<Redirect>`` back to us while the
pipeline works on the answer), transfers (``<Dial>`` to a person) or says goodbye
(``<Hangup>``). Text is escaped by the SDK's XML writer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from toonbank.channels.twilio_voice.speech import Play, Say, Utterance, phrase

MAX_HINTS = 50
MAX_HINT_LENGTH = 100
DIAL_TIMEOUT = 25
"""Seconds a transfer rings before it counts as unanswered."""


@dataclass(frozen=True, slots=True)
class Speaker:
    """How the call speaks and listens: locale (BCP-47), optional voice and speech model."""

    locale: str
    voice: str | None = None
    speech_model: str | None = None


def _add(verb: Any, utterances: Iterable[Utterance], speaker: Speaker) -> None:
    for utterance in utterances:
        if isinstance(utterance, Say):
            verb.say(utterance.text, language=speaker.locale, voice=speaker.voice)
        elif isinstance(utterance, Play):
            verb.play(utterance.url)


def _xml(response: VoiceResponse) -> bytes:
    return str(response.to_xml()).encode("utf-8")


def _hints(titles: Sequence[str]) -> str | None:
    cleaned = [" ".join(t.replace(",", " ").split())[:MAX_HINT_LENGTH] for t in titles]
    unique = list(dict.fromkeys(t for t in cleaned if t))[:MAX_HINTS]
    return ", ".join(unique) or None


def listen(
    speaker: Speaker,
    utterances: Sequence[Utterance],
    *,
    action: str,
    retry: str,
    hints: Sequence[str] = (),
) -> bytes:
    """Say ``utterances`` while listening for speech or one key press; nothing heard → ``retry``."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf speech",
        action=action,
        method="POST",
        language=speaker.locale,
        speech_timeout="auto",
        num_digits=1,
        hints=_hints(hints),
        speech_model=speaker.speech_model,
    )
    _add(gather, utterances, speaker)
    response.redirect(retry, method="POST")
    return _xml(response)


def hold(speaker: Speaker, *, poll: str, announce: bool) -> bytes:
    """Keep the caller on the line while the answer is prepared, then ask again at ``poll``."""
    response = VoiceResponse()
    if announce:
        response.say(phrase("hold", speaker.locale), language=speaker.locale, voice=speaker.voice)
    response.pause(length=1)
    response.redirect(poll, method="POST")
    return _xml(response)


def transfer(
    speaker: Speaker, utterances: Sequence[Utterance], *, number: str, dialed: str
) -> bytes:
    """Say ``utterances``, announce the transfer and ``<Dial>`` the human ``number``."""
    response = VoiceResponse()
    _add(response, utterances, speaker)
    response.say(phrase("transfer", speaker.locale), language=speaker.locale, voice=speaker.voice)
    response.dial(number, action=dialed, method="POST", timeout=DIAL_TIMEOUT)
    return _xml(response)


def goodbye(speaker: Speaker, utterances: Sequence[Utterance], closing: str | None) -> bytes:
    """Say ``utterances`` and the ``closing`` phrase (a key of the phrase table), then hang up."""
    response = VoiceResponse()
    _add(response, utterances, speaker)
    if closing:
        response.say(phrase(closing, speaker.locale), language=speaker.locale, voice=speaker.voice)
    response.hangup()
    return _xml(response)


def empty() -> bytes:
    """An empty document (status callbacks: Twilio ignores the body)."""
    return _xml(VoiceResponse())
