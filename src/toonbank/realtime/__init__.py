"""Realtime bus: publish/subscribe of conversation events for widgets and the inbox."""

from toonbank.realtime.bus import Bus, MemoryBus, Subscription, create_bus

__all__ = ["Bus", "MemoryBus", "Subscription", "create_bus"]
