"""Telegram Bot API channel."""

from toonbank.channels.telegram.adapter import TelegramChannel
from toonbank.channels.telegram.render import callback_data

__all__ = ["TelegramChannel", "callback_data"]
