"""Inbox fixtures: a live server (embedded worker) and two workspaces with agents."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from tests.inbox.helpers import World, customer_conversation, make_agent

from toonbank.app import create_app
from toonbank.config import Settings
from toonbank.context import Context
from toonbank.simulator.api_channel import BackgroundServer
from toonbank.workspaces.service import create_workspace


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    app = create_app(settings.model_copy(update={"embedded_worker": True}))
    with BackgroundServer(app) as server:
        yield server.url


@pytest.fixture
async def world(ctx: Context, served: str, workspace: dict[str, str]) -> AsyncIterator[World]:
    async with ctx.db.uow() as uow:
        other, other_key = await create_workspace(
            uow.session, ctx.secret_box, ctx.channels, "rival"
        )
    other_ws = {"id": other.id, "name": "rival", "api_key": other_key}
    for email, role in (
        ("ann@a.test", "agent"),
        ("bob@a.test", "agent"),
        ("sue@a.test", "supervisor"),
    ):
        await make_agent(ctx, workspace["id"], email, role=role, availability="offline")
    await make_agent(ctx, other.id, "eve@r.test", role="owner", availability="offline")
    cid = await customer_conversation(ctx, served, workspace, "cust-1", "I need a stylist")
    yield World(served, workspace, other_ws, cid)
