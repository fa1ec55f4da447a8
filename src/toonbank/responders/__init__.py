"""Who answers the customer while a conversation is with the bot (the responder port)."""

from toonbank.responders.base import Responder, ResponderRegistry, Turn, TurnResult
from toonbank.responders.registry import default_responders

__all__ = ["Responder", "ResponderRegistry", "Turn", "TurnResult", "default_responders"]
