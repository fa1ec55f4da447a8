"""When the assistant hands over to people, and what it tells the customer about the wait.

Workspace settings (``workspaces.settings["assistant"]``), all optional:

    {"handover_cart_total": 50000,          # minor units; a cart at or above it goes to a person
     "handover_intents": ["complaint"],      # business rule: these intents always go to a person
     "misunderstood_limit": 2,               # consecutive misunderstood messages
     "wait_minutes": 10,                     # usual first reply time within business hours
     "business_hours": {"timezone": "Europe/Amsterdam",
                        "weekly": {"mon": ["09:00-17:00"], ...}, "exceptions": []},
     "payment_provider": "sandbox", "shop_name": "Toonbank"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from toonbank.assistant.dialogue.texts import say
from toonbank.commerce.hours import HoursError, OpeningHours

DEFAULT_CART_TOTAL = 50_000
DEFAULT_WAIT_MINUTES = 10
DEFAULT_LIMIT = 2


@dataclass(frozen=True)
class Policy:
    cart_total: int = DEFAULT_CART_TOTAL
    intents: frozenset[str] = field(default_factory=frozenset)
    misunderstood_limit: int = DEFAULT_LIMIT
    wait_minutes: int = DEFAULT_WAIT_MINUTES
    hours: OpeningHours | None = None
    payment_provider: str = "sandbox"
    shop_name: str = "Toonbank"

    @classmethod
    def of(cls, workspace_settings: dict[str, Any] | None) -> Policy:
        raw = (workspace_settings or {}).get("assistant") or {}
        hours = None
        spec = raw.get("business_hours")
        if isinstance(spec, dict):
            try:
                hours = OpeningHours.from_json(
                    str(spec.get("timezone", "UTC")), spec.get("weekly"), spec.get("exceptions")
                )
            except HoursError:
                hours = None  # a broken setting must not break the conversation
        return cls(
            cart_total=int(raw.get("handover_cart_total", DEFAULT_CART_TOTAL)),
            intents=frozenset(raw.get("handover_intents") or ()),
            misunderstood_limit=max(1, int(raw.get("misunderstood_limit", DEFAULT_LIMIT))),
            wait_minutes=max(1, int(raw.get("wait_minutes", DEFAULT_WAIT_MINUTES))),
            hours=hours,
            payment_provider=str(raw.get("payment_provider", "sandbox")),
            shop_name=str(raw.get("shop_name", "Toonbank"))[:60],
        )

    def wait_text(self, language: str, at: datetime) -> str:
        """What the customer hears about the wait: minutes when open, else when we open."""
        if self.hours is not None and not self.hours.is_open(at):
            opens = self.hours.next_opening(at)
            if opens is not None:
                when = opens.strftime("%d-%m %H:%M")
                return say(language, "wait_closed", when=when)
        return say(language, "wait_minutes", minutes=self.wait_minutes)
