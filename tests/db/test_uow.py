"""Side effects run only after commit, never after a rollback."""

from __future__ import annotations

import pytest
from tests.helpers import count

from toonbank.context import Context
from toonbank.conversations.events import record_event
from toonbank.models import Event
from toonbank.realtime import MemoryBus


async def test_events_publish_after_commit_only(ctx: Context, workspace: dict[str, str]) -> None:
    bus = MemoryBus()
    subscription = await bus.subscribe(f"workspace:{workspace['id']}")
    with pytest.raises(RuntimeError):
        async with ctx.db.uow() as uow:
            await record_event(uow, bus, workspace_id=workspace["id"], type="x", data={"n": 1})
            assert subscription.queue.empty()  # not before commit
            raise RuntimeError("roll back")
    assert subscription.queue.empty()
    async with ctx.db.uow() as uow:
        event_id = await record_event(
            uow, bus, workspace_id=workspace["id"], type="x", data={"n": 2}
        )
        assert subscription.queue.empty()
    message = await subscription.get(timeout=1)
    assert message == {"id": event_id, "type": "x", "n": 2, "public": True}
    async with ctx.db.session() as session:
        stored = await session.get(Event, event_id)
    assert stored is not None and stored.data == {"n": 2}
    assert await count(ctx, Event) == 1  # the rolled-back one was never stored
