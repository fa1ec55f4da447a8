"""Teams with business hours, round robin, SLA timers with once-only warnings, auto-reassign
(and, on PostgreSQL, several workers running the periodic check at once)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from tests.inbox.helpers import conversation, make_agent, queued_conversations

from toonbank.config import Settings
from toonbank.context import Context, create_context
from toonbank.conversations.states import ASSIGNED, QUEUED
from toonbank.inbox import sla, teams
from toonbank.inbox.routing import claim, route_all, route_next
from toonbank.kit.clock import now
from toonbank.models import (
    Agent,
    AgentProfile,
    Conversation,
    Event,
    InboxAssignment,
    InboxConversation,
    InboxSlaMark,
    Message,
    Workspace,
)

ALWAYS_CLOSED = {"weekly": {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
ALWAYS_OPEN = {
    "weekly": {
        d: ["00:00-12:00", "12:00-00:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
}


async def _team(ctx: Context, ws: str, name: str, hours: dict, members: list[str]) -> str:
    async with ctx.db.uow() as uow:
        team = await teams.save_team(
            uow.session,
            ws,
            team_id=None,
            name=name,
            timezone="Europe/Amsterdam",
            hours=hours,
            first_response_seconds=None,
            next_response_seconds=None,
            members=members,
        )
        return team.id


async def _route_to_team(ctx: Context, ws: str, cid: str, team_id: str) -> None:
    async with ctx.db.uow() as uow:
        state = await teams.inbox_state(uow.session, cid, ws)
        state.team_id = team_id


async def _policy(ctx: Context, ws: str, **inbox: object) -> None:
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Workspace, ws)
        assert row is not None
        row.settings = {**(row.settings or {}), "inbox": inbox}


async def test_team_conversations_wait_while_the_team_is_closed(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    ann = await make_agent(ctx, ws, "ann@x.test")
    bob = await make_agent(ctx, ws, "bob@x.test")
    night = await _team(ctx, ws, "night", ALWAYS_CLOSED, [ann.id])
    day = await _team(ctx, ws, "day", ALWAYS_OPEN, [bob.id])
    [for_night, for_day] = await queued_conversations(ctx, ws, 2)
    await _route_to_team(ctx, ws, for_night, night)
    await _route_to_team(ctx, ws, for_day, day)
    assert await route_all(ctx, ws) == 1
    assert (await conversation(ctx, for_day)).assigned_agent_id == bob.id  # members only
    assert (await conversation(ctx, for_night)).status == QUEUED  # closed: it waits
    async with ctx.db.uow() as uow:
        await teams.save_team(
            uow.session,
            ws,
            team_id=night,
            name="night",
            timezone="UTC",
            hours=ALWAYS_OPEN,
            first_response_seconds=None,
            next_response_seconds=None,
            members=[ann.id],
        )
    assert await route_all(ctx, ws) == 1
    assert (await conversation(ctx, for_night)).assigned_agent_id == ann.id


async def test_team_hours_are_validated(ctx: Context, workspace: dict[str, str]) -> None:
    with pytest.raises(teams.TeamError):
        await _team(ctx, workspace["id"], "bad", {"weekly": {"mon": ["9-5"]}}, [])
    with pytest.raises(teams.TeamError):
        await _team(ctx, workspace["id"], "big", {"exceptions": [{"date": "2026-01-01"}] * 401}, [])
    with pytest.raises(teams.TeamError):  # a member of no such agent in this workspace
        await _team(ctx, workspace["id"], "x", ALWAYS_OPEN, ["nobody"])


async def test_round_robin_ignores_load(ctx: Context, workspace: dict[str, str]) -> None:
    ws = workspace["id"]
    await _policy(ctx, ws, strategy="round_robin")
    ann = await make_agent(ctx, ws, "ann@x.test", capacity=9)
    bob = await make_agent(ctx, ws, "bob@x.test", capacity=9)
    ids = await queued_conversations(ctx, ws, 4)
    order = []
    for _ in ids:
        async with ctx.db.uow() as uow:
            result = await route_next(uow, ctx.bus, ws)
        order.append(result.agent_id)
    assert order[0] != order[1] and order[0] == order[2] and order[1] == order[3]
    assert set(order) == {ann.id, bob.id}


async def _age(ctx: Context, cid: str, seconds: int) -> None:
    """Pretend the conversation queued (and was assigned) ``seconds`` ago."""
    past = now() - timedelta(seconds=seconds)
    async with ctx.db.uow() as uow:
        await uow.session.execute(
            update(Conversation).where(Conversation.id == cid).values(queued_at=past)
        )
        await uow.session.execute(
            update(InboxAssignment)
            .where(InboxAssignment.conversation_id == cid)
            .values(assigned_at=past)
        )


async def _message(ctx: Context, cid: str, direction: str, sender: str, ago: int) -> None:
    row = await conversation(ctx, cid)
    async with ctx.db.uow() as uow:
        uow.session.add(
            Message(
                workspace_id=row.workspace_id,
                conversation_id=cid,
                contact_id=row.contact_id,
                direction=direction,
                sender=sender,
                content={"type": "text", "text": "x"},
                status="received" if direction == "in" else "sent",
                created_at=now() - timedelta(seconds=ago),
            )
        )


async def _timer(ctx: Context, cid: str) -> sla.Timer | None:
    async with ctx.db.session() as session:
        row = await session.get(Conversation, cid)
        assert row is not None
        return (await sla.timers(session, [row]))[cid]


async def test_sla_timers_first_and_next_response(ctx: Context, workspace: dict[str, str]) -> None:
    ws = workspace["id"]
    await _policy(ctx, ws, first_response_seconds=100, next_response_seconds=200, warn_ratio=0.5)
    [cid] = await queued_conversations(ctx, ws, 1)
    await _age(ctx, cid, 10)
    timer = await _timer(ctx, cid)
    assert timer is not None and timer.kind == "first" and timer.state(now()) == "ok"
    await _age(ctx, cid, 60)
    timer = await _timer(ctx, cid)
    assert timer is not None and timer.state(now()) == "warning"
    await _age(ctx, cid, 120)
    timer = await _timer(ctx, cid)
    assert timer is not None and timer.state(now()) == "breached"
    # The agent answers: no timer; the customer writes again: the next-response timer.
    await _message(ctx, cid, "out", "agent", 5)
    assert await _timer(ctx, cid) is None
    await _message(ctx, cid, "in", "contact", 150)  # before the reply: does not count
    assert await _timer(ctx, cid) is None
    await _message(ctx, cid, "in", "contact", 2)
    timer = await _timer(ctx, cid)
    assert timer is not None and timer.kind == "next"
    assert 195 <= (timer.due_at - now()).total_seconds() <= 199


async def test_sla_check_announces_each_warning_once(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    await _policy(ctx, ws, first_response_seconds=100, warn_ratio=0.5, reassign_after_seconds=0)
    [late, fine] = await queued_conversations(ctx, ws, 2)
    await _age(ctx, late, 70)
    assert await sla.check(ctx) == 1
    assert await sla.check(ctx) == 0  # the same warning is never announced twice
    await _age(ctx, late, 130)
    assert await sla.check(ctx) == 1
    async with ctx.db.session() as session:
        events = list(
            (await session.execute(select(Event).where(Event.type.like("sla_%")))).scalars()
        )
    assert [(e.type, e.conversation_id, e.data["sla"]["kind"]) for e in events] == [
        ("sla_warning", late, "first"),
        ("sla_breached", late, "first"),
    ]
    assert all(not e.public for e in events)
    assert fine not in {e.conversation_id for e in events}


async def test_auto_reassign_moves_an_unanswered_conversation(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    await _policy(ctx, ws, reassign_after_seconds=60, first_response_seconds=600)
    ann = await make_agent(ctx, ws, "ann@x.test")
    [cid, answered] = await queued_conversations(ctx, ws, 2)
    for c in (cid, answered):
        async with ctx.db.uow() as uow:
            agent = await uow.session.get(Agent, ann.id)
            assert agent is not None
            await claim(uow, ctx.bus, workspace_id=ws, conversation_id=c, agent=agent, actor="t")
    await _age(ctx, cid, 30)
    await _age(ctx, answered, 90)
    await _message(ctx, answered, "out", "agent", 10)
    assert await sla.check(ctx) == 0  # 30 s: not yet; the other one was answered
    bob = await make_agent(ctx, ws, "bob@x.test")
    await _age(ctx, cid, 90)
    assert await sla.check(ctx) == 1
    row = await conversation(ctx, cid)
    assert (row.status, row.assigned_agent_id) == (ASSIGNED, bob.id)
    assert (await conversation(ctx, answered)).assigned_agent_id == ann.id
    async with ctx.db.session() as session:
        state = await session.get(InboxConversation, cid)
        log = list(
            (
                await session.execute(
                    select(InboxAssignment)
                    .where(InboxAssignment.conversation_id == cid)
                    .order_by(InboxAssignment.id)
                )
            ).scalars()
        )
        kinds = [e.type for e in (await session.execute(select(Event))).scalars()]
    assert state is not None and state.reassigned == 1 and state.skip_agent_id is None
    assert [(a.agent_id, a.ended_reason is not None) for a in log] == [
        (ann.id, True),
        (bob.id, False),
    ]
    assert "auto_reassigned" in kinds


async def test_auto_reassign_keeps_the_place_when_nobody_else_can_take_it(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    await _policy(ctx, ws, reassign_after_seconds=60)
    ann = await make_agent(ctx, ws, "ann@x.test", capacity=1)
    [cid] = await queued_conversations(ctx, ws, 1)
    assert await route_all(ctx, ws) == 1
    await _age(ctx, cid, 90)
    queued_before = (await conversation(ctx, cid)).queued_at
    await make_agent(ctx, ws, "bob@x.test", availability="away")
    assert await sla.check(ctx) >= 1
    row = await conversation(ctx, cid)
    # Only ann is online: she gets it back (rather than it waiting for nobody).
    assert (row.status, row.assigned_agent_id) == (ASSIGNED, ann.id)
    assert row.queued_at == queued_before


# ------------------------------------------------------------------------------------------
# PostgreSQL: several workers run the periodic check at once
# ------------------------------------------------------------------------------------------
@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("row-lock concurrency is a PostgreSQL property (SQLite serializes writers)")


async def test_racing_checks_reassign_once_and_strand_nothing(
    postgres_only: None, ctx: Context, settings: Settings, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    await _policy(ctx, ws, reassign_after_seconds=60, first_response_seconds=100, warn_ratio=0.5)
    slow = [await make_agent(ctx, ws, f"slow{i}@x.test", capacity=3) for i in range(4)]
    ids = await queued_conversations(ctx, ws, 12)
    assert await route_all(ctx, ws) == 12
    for cid in ids:
        await _age(ctx, cid, 90)
    async with ctx.db.uow() as uow:  # they all went quiet; fresh colleagues come online
        await uow.session.execute(
            update(AgentProfile)
            .where(AgentProfile.agent_id.in_([a.id for a in slow]))
            .values(availability="away")
        )
    fresh = [await make_agent(ctx, ws, f"fresh{i}@x.test", capacity=4) for i in range(3)]
    processes = [create_context(settings) for _ in range(3)]
    for p in processes:
        await p.start()
    try:
        await asyncio.wait_for(
            asyncio.gather(*[sla.check(p) for p in processes for _ in range(2)]), timeout=120
        )
        for p in processes:
            await route_all(p, ws)
    finally:
        for p in processes:
            await p.close()
    async with ctx.db.session() as session:
        rows = list(
            (await session.execute(select(Conversation).where(Conversation.workspace_id == ws)))
            .scalars()
            .all()
        )
        marks = Counter(
            (m.conversation_id, m.kind, m.level)
            for m in (await session.execute(select(InboxSlaMark))).scalars()
        )
        reassigned_events = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "auto_reassigned")
        )
        states = {
            s.conversation_id: s
            for s in (await session.execute(select(InboxConversation))).scalars()
        }
        open_log = Counter(
            cid
            for (cid,) in await session.execute(
                select(InboxAssignment.conversation_id).where(InboxAssignment.ended_at.is_(None))
            )
        )
    fresh_ids = {a.id for a in fresh}
    # Every conversation moved exactly once, to a fresh agent, within capacity.
    assert all(r.status == ASSIGNED and r.assigned_agent_id in fresh_ids for r in rows)
    assert max(Counter(r.assigned_agent_id for r in rows).values()) <= 4
    assert reassigned_events == 12
    assert all(states[c].reassigned == 1 for c in ids)
    assert all(n == 1 for n in marks.values())
    assert open_log == Counter({c: 1 for c in ids})


async def test_taking_from_the_assistant_starts_the_first_response_timer(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    ann = await make_agent(ctx, ws, "ann@x.test")
    [cid] = await queued_conversations(ctx, ws, 1, status="bot")
    async with ctx.db.uow() as uow:  # the assistant has been talking for an hour
        await uow.session.execute(
            update(Conversation)
            .where(Conversation.id == cid)
            .values(created_at=now() - timedelta(hours=1))
        )
    assert await _timer(ctx, cid) is None  # nobody waits for a person yet
    async with ctx.db.uow() as uow:
        agent = await uow.session.get(Agent, ann.id)
        assert agent is not None
        await claim(uow, ctx.bus, workspace_id=ws, conversation_id=cid, agent=agent, actor="t")
    timer = await _timer(ctx, cid)
    assert timer is not None and timer.kind == "first" and timer.state(now()) == "ok"
    assert (now() - timer.started_at).total_seconds() < 60
