"""The dialogue state persisted on the conversation (``conversations.bot_state``) between turns.

``flow`` names the active state machine and ``step`` its state; ``slots`` hold what the
customer asked for so far. Everything is plain JSON so the pipeline stores it as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

IDLE = "idle"
DISCOVERY = "discovery"
CHECKOUT = "checkout"
ORDER = "order"


@dataclass
class DialogueState:
    turns: int = 0
    flow: str = IDLE
    step: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    """Product ids of the latest results (for "the first one", questions, add to cart)."""
    focus: str | None = None
    """The product the customer is talking about."""
    misunderstood: int = 0
    handed_over: str | None = None
    """The reason of the last handover until the conversation comes back to the assistant."""
    handover_rules_done: list[str] = field(default_factory=list)
    """One-shot handover rules that already fired (no loop after the conversation returns)."""
    last: dict[str, Any] = field(default_factory=dict)
    """The latest understanding: intent, confidence, entities (read by conversation tests)."""
    handover: dict[str, Any] = field(default_factory=dict)
    """Context for the person who takes over: summary, intent, cart."""
    offered: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, data: dict[str, Any]) -> DialogueState:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    def reset_flow(self) -> None:
        self.flow, self.step, self.slots, self.asked = IDLE, None, {}, []
