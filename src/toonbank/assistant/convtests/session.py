"""A fresh demo shop to run conversation tests against: a new SQLite database in a temporary
directory, migrated and seeded like ``toonbank serve --demo``, or a given database URL."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from toonbank.assistant.convtests.runner import Outcome, Runner
from toonbank.assistant.convtests.spec import Conversation
from toonbank.config import Settings
from toonbank.context import create_context
from toonbank.db.migrate import upgrade_async
from toonbank.demo import ensure_demo


@asynccontextmanager
async def demo_runner(
    database_url: str | None = None, *, settings: Mapping[str, Any] | None = None
) -> AsyncIterator[Runner]:
    """A :class:`Runner` on the seeded demo workspace (a fresh database unless one is given).

    ``settings``: further :class:`Settings` fields, e.g. ``{"llm_enabled": True, ...}`` to
    run the conversations with the generative layer on."""
    with tempfile.TemporaryDirectory(prefix="toonbank-test-") as folder:
        url = database_url or f"sqlite+aiosqlite:///{Path(folder) / 'toonbank.db'}"
        await upgrade_async(url)
        values: dict[str, Any] = {
            "database_url": url,
            "data_dir": Path(folder),
            "secret_key": "conversation-tests-only-0123456789",  # a throwaway shop
            "embedded_worker": False,
            **(settings or {}),
        }
        ctx = create_context(Settings(**values))
        await ctx.start()
        try:
            info = await ensure_demo(ctx)
            yield Runner(ctx, info.workspace_id)
        finally:
            await ctx.close()


async def run_all(
    conversations: Sequence[Conversation], database_url: str | None = None
) -> list[Outcome]:
    async with demo_runner(database_url) as runner:
        return [await runner.run(c) for c in conversations]
