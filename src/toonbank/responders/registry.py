"""The built-in responders.

``placeholder`` stays the default for a new workspace; a workspace picks another one with its
``settings["responder"]`` (the demo workspace uses ``assistant``).
"""

from __future__ import annotations

from collections.abc import Callable

from toonbank.responders.base import Responder, ResponderRegistry, Turn, TurnResult
from toonbank.responders.placeholder import PlaceholderResponder


class LazyResponder:
    """A responder built on its first turn: the assistant imports the understanding engine
    and the commerce core, which processes that never answer customers need not load."""

    def __init__(self, name: str, factory: Callable[[], Responder]) -> None:
        self.name = name
        self._factory = factory
        self._built: Responder | None = None

    async def respond(self, turn: Turn) -> TurnResult:
        if self._built is None:
            self._built = self._factory()
        return await self._built.respond(turn)


def _assistant() -> Responder:
    from toonbank.assistant.dialogue.responder import AssistantResponder

    return AssistantResponder()


def default_responders() -> ResponderRegistry:
    registry = ResponderRegistry(default="placeholder")
    registry.register(PlaceholderResponder())
    registry.register(LazyResponder("assistant", _assistant))
    return registry
