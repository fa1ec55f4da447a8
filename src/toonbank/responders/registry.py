"""The built-in responders."""

from __future__ import annotations

from toonbank.responders.base import ResponderRegistry
from toonbank.responders.placeholder import PlaceholderResponder


def default_responders() -> ResponderRegistry:
    registry = ResponderRegistry(default="placeholder")
    registry.register(PlaceholderResponder())
    return registry
