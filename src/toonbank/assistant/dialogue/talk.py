"""One turn of the dialogue: what the flows read (message, understanding, state, policy) and
what they produce (replies, handover). Flows are plain functions of a :class:`Talk`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from toonbank.assistant.dialogue.policy import Policy
from toonbank.assistant.dialogue.state import DialogueState
from toonbank.assistant.dialogue.texts import say
from toonbank.assistant.engine import Understanding
from toonbank.channels.content import Content, Option, QuickReplies, Text
from toonbank.channels.render import format_money
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.responders.base import Turn


@dataclass
class Talk:
    turn: Turn
    ctx: Context
    state: DialogueState
    understanding: Understanding
    language: str
    policy: Policy
    text: str
    """The customer's words (a chosen option's title), empty for media."""
    payload: str | None = None
    """The chosen option's payload, when the customer tapped or typed a number."""
    preferences: dict[str, Any] = field(default_factory=dict)
    replies: list[Content] = field(default_factory=list)
    handover: str | None = None
    close: str | None = None
    generation: str | None = None
    """How the generative layer did this turn: ``generated``, or its fallback reason
    (``timeout``, ``error``, ``unsupported_numbers``, …); None when it was not asked."""
    at: datetime = field(default_factory=now)

    @property
    def workspace_id(self) -> str:
        return self.turn.workspace_id

    @property
    def contact_id(self) -> str:
        return self.turn.contact_id

    @property
    def intent(self) -> str:
        return self.understanding.intent

    @property
    def entities(self) -> dict[str, Any]:
        return self.understanding.entities

    def t(self, key: str, **values: Any) -> str:
        return say(self.language, key, **values)

    def money(self, minor: int, currency: str) -> str:
        return format_money(minor, currency)

    def say(self, key: str, **values: Any) -> None:
        self.replies.append(Text(text=self.t(key, **values)[:4096]))

    def text_reply(self, text: str) -> None:
        self.replies.append(Text(text=text[:4096]))

    def ask(self, text: str, options: list[tuple[str, str]]) -> None:
        """A question with quick replies: ``options`` are (title, payload) pairs."""
        self.replies.append(
            QuickReplies(
                text=text[:1024],
                options=[Option(title=title[:80], payload=p[:256]) for title, p in options[:13]],
            )
        )

    def hand_over(self, reason: str, lead: str | None = None) -> None:
        """Go to people: say why (``lead``), what happens and how long it may take."""
        if lead:
            self.say(lead)
        self.text_reply(f"{self.t('handover')} {self.policy.wait_text(self.language, self.at)}")
        self.handover = reason
