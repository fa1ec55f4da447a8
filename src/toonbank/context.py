"""The composition root: every long-lived service of one process, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from toonbank.channels.connections import ConnectionCache
from toonbank.channels.registry import ChannelRegistry, default_registry
from toonbank.commerce.search import LexicalSearchEngine, SearchEngine
from toonbank.config import Settings
from toonbank.db import Database, create_database
from toonbank.kit.crypto import SecretBox, TokenSigner
from toonbank.realtime import Bus, create_bus
from toonbank.responders import ResponderRegistry, default_responders

PIPELINE_TOPIC = "pipeline"


@dataclass
class Context:
    settings: Settings
    db: Database
    bus: Bus
    channels: ChannelRegistry
    responders: ResponderRegistry
    secret_box: SecretBox
    visitor_tokens: TokenSigner
    http: httpx.AsyncClient
    connections: ConnectionCache
    search: SearchEngine
    _started: bool = field(default=False, repr=False)

    async def wake(self, stage: str) -> None:
        """Tell workers (in this and other processes) that ``stage`` has new work."""
        await self.bus.publish(PIPELINE_TOPIC, {"stage": stage})

    async def start(self) -> None:
        if not self._started:
            await self.bus.start()
            self._started = True

    async def close(self) -> None:
        await self.bus.stop()
        await self.http.aclose()
        await self.db.dispose()


def create_context(settings: Settings) -> Context:
    secret = settings.resolved_secret_key()
    db = create_database(settings.database_url)
    box = SecretBox(secret)
    return Context(
        settings=settings,
        db=db,
        bus=create_bus(settings.redis_url),
        channels=default_registry(),
        responders=default_responders(),
        secret_box=box,
        visitor_tokens=TokenSigner(secret, "webchat-visitor"),
        http=httpx.AsyncClient(
            timeout=httpx.Timeout(settings.dispatch_timeout),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            headers={"user-agent": "Toonbank/0.1"},
        ),
        connections=ConnectionCache(db, box),
        search=LexicalSearchEngine(db),
    )
