"""Which adapter serves which channel type."""

from __future__ import annotations

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


def default_registry() -> ChannelRegistry:
    from toonbank.channels.api import ApiChannel
    from toonbank.channels.internal import TerminalChannel, WebChatChannel

    registry = ChannelRegistry()
    for adapter in (WebChatChannel(), TerminalChannel(), ApiChannel()):
        registry.register(adapter)
    return registry
