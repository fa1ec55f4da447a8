"""The responder port: one inbound message in, replies and a new dialogue state out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content

if TYPE_CHECKING:
    from toonbank.context import Context
    from toonbank.conversations.events import EventSpec


@dataclass(frozen=True, slots=True)
class Turn:
    """Everything a responder may look at for one customer message."""

    workspace_id: str
    conversation_id: str
    contact_id: str
    channel_type: str
    capabilities: Capabilities
    content: Content
    state: dict[str, Any]
    language: str | None = None
    first_message: bool = False
    services: Context | None = None
    """The process's services (database, search, settings) for responders that read the shop
    (the assistant); ``None`` where no shop is behind the conversation. A responder opens its
    own short transactions: the turn itself runs outside any transaction."""


@dataclass(slots=True)
class TurnResult:
    replies: list[Content] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    handover_reason: str | None = None
    """Set to hand the conversation to people (status → queued)."""
    close_reason: str | None = None
    language: str | None = None
    events: list[EventSpec] = field(default_factory=list)
    """Recorded in the turn's transaction (e.g. ``assistant.turn`` for the assistant metrics)."""
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    """Run once the turn is committed (e.g. Prometheus counters); never for a rolled-back turn."""


class Responder(Protocol):
    name: str

    async def respond(self, turn: Turn) -> TurnResult: ...


class ResponderRegistry:
    def __init__(self, default: str) -> None:
        self._responders: dict[str, Responder] = {}
        self.default = default

    def register(self, responder: Responder) -> None:
        self._responders[responder.name] = responder

    def get(self, name: str | None) -> Responder:
        return self._responders.get(name or self.default) or self._responders[self.default]
