"""A small placeholder flow (greeting, a menu with buttons, echo of choices).

It exists so the demo and the tests exercise the whole pipeline before the assistant lands.
"""

from __future__ import annotations

import unicodedata

from toonbank.channels.content import Option, QuickReplies, Reply, Text
from toonbank.responders.base import Turn, TurnResult

GREETINGS = {"hi", "hello", "hey", "hoi", "hallo", "bonjour", "hola", "ciao", "ola", "czesc"}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hi! I'm the Toonbank demo assistant (an automated bot). How can I help?",
        "menu": "What would you like to do?",
        "browse": "Browse products",
        "order": "Order status",
        "human": "Talk to a person",
        "chosen": "You chose: {title}.",
        "echo": "You said: {text}",
        "handover": "I'm passing you to a colleague. Someone will reply here shortly.",
        "media": "Thanks, I received your {kind}.",
    },
    "nl": {
        "greeting": "Hoi! Ik ben de demo-assistent van Toonbank (een automatische bot). "
        "Waarmee kan ik helpen?",
        "menu": "Wat wil je doen?",
        "browse": "Producten bekijken",
        "order": "Status van bestelling",
        "human": "Met een mens praten",
        "chosen": "Je koos: {title}.",
        "echo": "Je zei: {text}",
        "handover": "Ik geef je door aan een collega. Er reageert zo iemand hier.",
        "media": "Bedankt, ik heb je {kind} ontvangen.",
    },
}
DUTCH_HINTS = {"hoi", "hallo", "dag", "goedemorgen", "bedankt", "ik", "je", "een", "wil"}


def _norm(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip(" !.?,")


class PlaceholderResponder:
    name = "placeholder"

    def _menu(self, t: dict[str, str]) -> QuickReplies:
        return QuickReplies(
            text=t["menu"],
            options=[
                Option(title=t["browse"], payload="menu:browse"),
                Option(title=t["order"], payload="menu:order"),
                Option(title=t["human"], payload="menu:human"),
            ],
        )

    async def respond(self, turn: Turn) -> TurnResult:
        language = turn.language or "en"
        content = turn.content
        if isinstance(content, Text) and set(_norm(content.text).split()) & DUTCH_HINTS:
            language = "nl"
        t = TEXTS.get(language, TEXTS["en"])
        result = TurnResult(state=dict(turn.state), language=language)
        result.state["turns"] = int(turn.state.get("turns", 0)) + 1
        if isinstance(content, Reply):
            if content.payload == "menu:human":
                result.replies = [Text(text=t["handover"])]
                result.handover_reason = "customer asked for a person"
                return result
            title = content.title or content.payload
            result.replies = [Text(text=t["chosen"].format(title=title)), self._menu(t)]
            return result
        if isinstance(content, Text):
            if turn.first_message or _norm(content.text) in GREETINGS:
                result.replies = [Text(text=t["greeting"]), self._menu(t)]
            else:
                result.replies = [Text(text=t["echo"].format(text=content.text[:1000]))]
            return result
        kind = getattr(content, "kind", content.type)
        result.replies = [Text(text=t["media"].format(kind=kind))]
        return result
