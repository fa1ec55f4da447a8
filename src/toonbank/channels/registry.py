"""Which adapter serves which channel type."""

from __future__ import annotations

import importlib

from toonbank.channels.base import ChannelAdapter


class UnknownChannelType(LookupError):
    pass


class ChannelRegistry:
    def __init__(self) -> None:
        self._adapters: dict[str, ChannelAdapter] = {}

    def register(self, adapter: ChannelAdapter) -> None:
        self._adapters[adapter.manifest.type] = adapter

    def get(self, channel_type: str) -> ChannelAdapter:
        try:
            return self._adapters[channel_type]
        except KeyError:
            raise UnknownChannelType(channel_type) from None

    def types(self) -> list[str]:
        return sorted(self._adapters)


ADAPTERS: dict[str, str] = {
    "webchat": "toonbank.channels.internal:WebChatChannel",
    "terminal": "toonbank.channels.internal:TerminalChannel",
    "api": "toonbank.channels.api:ApiChannel",
    "whatsapp": "toonbank.channels.whatsapp:WhatsAppChannel",
    "messenger": "toonbank.channels.meta:MessengerChannel",
    "instagram": "toonbank.channels.meta:InstagramChannel",
    "telegram": "toonbank.channels.telegram:TelegramChannel",
    "twilio": "toonbank.channels.twilio:TwilioChannel",
    "twilio-voice": "toonbank.channels.twilio_voice:TwilioVoiceChannel",
    "wechat": "toonbank.channels.wechat:WeChatChannel",
    "line": "toonbank.channels.line:LineChannel",
    "viber": "toonbank.channels.viber:ViberChannel",
}
"""Channel type → adapter class. Adding a channel: one package and one line here."""


def default_registry() -> ChannelRegistry:
    registry = ChannelRegistry()
    for target in ADAPTERS.values():
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # a channel package not written yet
                continue
            raise
        registry.register(getattr(module, class_name)())
    return registry
