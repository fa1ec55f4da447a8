"""The built-in responders.

``placeholder`` stays the default for a new workspace; a workspace picks another one with its
``settings["responder"]`` (the demo workspace uses ``assistant``).
"""

from __future__ import annotations

from toonbank.responders.base import ResponderRegistry
from toonbank.responders.placeholder import PlaceholderResponder


def default_responders() -> ResponderRegistry:
    # Imported here: the assistant imports the commerce core, which imports the context.
    from toonbank.assistant.dialogue.responder import AssistantResponder

    registry = ResponderRegistry(default="placeholder")
    registry.register(PlaceholderResponder())
    registry.register(AssistantResponder())
    return registry
