"""The composition root: every long-lived service of one process, passed explicitly."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from toonbank.channels.connections import ConnectionCache
from toonbank.channels.http import ProviderClient
from toonbank.channels.registry import ChannelRegistry, default_registry
from toonbank.commerce.search import LexicalSearchEngine, SearchEngine, SemanticSearchEngine
from toonbank.config import Settings
from toonbank.db import Database, create_database
from toonbank.kit.crypto import SecretBox, TokenSigner
from toonbank.pipeline.ingest import LedgerWriter
from toonbank.pipeline.pacing import SendPacer, create_pacer
from toonbank.realtime import Bus, create_bus
from toonbank.responders import ResponderRegistry, default_responders

if TYPE_CHECKING:
    from toonbank.assistant.generative import GenerativeLayer

PIPELINE_TOPIC = "pipeline"
GC_YOUNG_THRESHOLD = 20_000
"""Allocations between young-generation collections in a server process (CPython: 700)."""


def tune_gc_for_serving() -> None:
    """Make the cyclic garbage collector cheap for a long-running server process.

    Everything imported and built at startup (modules, ORM metadata, routes, compiled
    statements) lives as long as the process; ``gc.freeze`` moves it out of the collector's
    sight so a full collection no longer walks it. A turn allocates thousands of short-lived
    containers (SQLAlchemy, httpx, FastAPI), so with CPython's default young threshold (700)
    the collector ran hundreds of times a second: a quarter of the server's CPU at 100 msg/s
    in the benchmark. Call once, after startup, in server and worker processes only (tests
    keep the defaults).
    """
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


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
    pacer: SendPacer
    search: SearchEngine
    generative: GenerativeLayer | None = None
    """The optional generative layer (``TOONBANK_LLM_ENABLED``), built once per process;
    None when off (the default): the assistant and the suggestions stay deterministic."""
    ledger: LedgerWriter = field(init=False, repr=False)
    _started: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.ledger = LedgerWriter(self.db, self.wake)

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
        await self.pacer.close()
        await self.db.dispose()
        if self.generative is not None:
            await self.generative.aclose()


def provider_client(timeout: float, connections: int = 64) -> httpx.AsyncClient:
    """The HTTP client every adapter sends with (see :mod:`toonbank.channels.http`)."""
    return ProviderClient(timeout=timeout, connections=connections, user_agent="Toonbank/0.1")


def generative_layer(settings: Settings) -> GenerativeLayer | None:
    """The optional generative layer, or None when off (then its SDK is not even imported)."""
    if not settings.llm_enabled:
        return None
    from toonbank.assistant.generative import GenerativeLayer

    return GenerativeLayer.from_settings(settings)


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
        http=provider_client(settings.dispatch_timeout, max(64, settings.dispatch_concurrency)),
        connections=ConnectionCache(db, box),
        pacer=create_pacer(settings.redis_url),
        search=SemanticSearchEngine(LexicalSearchEngine(db)),
        generative=generative_layer(settings),
    )
