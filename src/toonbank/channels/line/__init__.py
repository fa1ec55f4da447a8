"""LINE Messaging API channel."""

from toonbank.channels.line.adapter import LineChannel, retry_key, signature

__all__ = ["LineChannel", "retry_key", "signature"]
