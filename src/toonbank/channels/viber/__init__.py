"""Viber REST Bot API channel."""

from toonbank.channels.viber.adapter import ViberChannel, signature

__all__ = ["ViberChannel", "signature"]
