"""Inbox routing: queue order, least busy, sticky agent, skills and languages, and atomic claims
under real concurrency on PostgreSQL (several engines = several "processes", many tasks)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select
from tests.inbox.helpers import conversation, make_agent, queued_conversations

from toonbank.config import Settings
from toonbank.context import Context, create_context
from toonbank.conversations.states import ASSIGNED, BOT, CLOSED, QUEUED
from toonbank.inbox import routing
from toonbank.inbox.routing import CapacityFull, NotClaimable, claim, route_all, route_next
from toonbank.models import (
    Agent,
    AgentProfile,
    Conversation,
    ConversationTransition,
    InboxAssignment,
)


async def _route_once(ctx: Context, workspace_id: str) -> routing.RouteResult:
    async with ctx.db.uow() as uow:
        return await route_next(uow, ctx.bus, workspace_id)


async def test_queue_order_least_busy_and_capacity(ctx: Context, workspace: dict[str, str]) -> None:
    ws = workspace["id"]
    ann = await make_agent(ctx, ws, "ann@x.test", capacity=2)
    bob = await make_agent(ctx, ws, "bob@x.test", capacity=1)
    await make_agent(ctx, ws, "off@x.test", capacity=9, availability="away")
    low = await queued_conversations(ctx, ws, 2)
    [urgent] = await queued_conversations(ctx, ws, 1, priority=5)
    first = await _route_once(ctx, ws)
    assert first.conversation_id == urgent  # priority first, even though it queued last
    second = await _route_once(ctx, ws)
    assert second.conversation_id == low[0]  # then the longest waiting
    assert {first.agent_id, second.agent_id} == {ann.id, bob.id}  # least busy: one each
    third = await _route_once(ctx, ws)
    assert (third.conversation_id, third.agent_id) == (low[1], ann.id)  # bob is full
    assert (await _route_once(ctx, ws)).outcome == "idle"
    async with ctx.db.session() as session:
        load = await routing.loads(session, ws)
    assert load == {ann.id: 2, bob.id: 1}


async def test_sticky_skills_and_languages(ctx: Context, workspace: dict[str, str]) -> None:
    ws = workspace["id"]
    ann = await make_agent(ctx, ws, "ann@x.test", languages=["en"])
    bob = await make_agent(ctx, ws, "bob@x.test", languages=["de", "en"], skills=["styling"])
    [german] = await queued_conversations(ctx, ws, 1, language="de-AT")
    [styling] = await queued_conversations(ctx, ws, 1, skill="styling")
    [french] = await queued_conversations(ctx, ws, 1, language="fr")
    assert await route_all(ctx, ws) == 2
    assert (await conversation(ctx, german)).assigned_agent_id == bob.id
    assert (await conversation(ctx, styling)).assigned_agent_id == bob.id
    assert (await conversation(ctx, french)).status == QUEUED  # nobody speaks French
    # Sticky: ann served a customer; the customer comes back while bob is less busy.
    [served] = await queued_conversations(ctx, ws, 1)
    async with ctx.db.uow() as uow:
        agent = await uow.session.get(Agent, ann.id)
        assert agent is not None
        await claim(uow, ctx.bus, workspace_id=ws, conversation_id=served, agent=agent, actor="t")
    contact_id = (await conversation(ctx, served)).contact_id
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Conversation, served)
        assert row is not None
        await routing.close(uow, ctx.bus, row, reason="resolved", actor="t")
        again = Conversation(
            workspace_id=ws, contact_id=contact_id, status=QUEUED, bot_state={}, priority=9
        )
        uow.session.add(again)
    async with ctx.db.uow() as uow:  # bob frees up: he would win on load alone
        for cid in (german, styling):
            row = await uow.session.get(Conversation, cid)
            assert row is not None
            await routing.close(uow, ctx.bus, row, reason="done", actor="t")
    result = await _route_once(ctx, ws)
    assert (result.conversation_id, result.agent_id) == (again.id, ann.id)


async def test_claim_rules_hand_back_and_close(ctx: Context, workspace: dict[str, str]) -> None:
    ws = workspace["id"]
    ann = await make_agent(ctx, ws, "ann@x.test", capacity=1, availability="offline")
    bob = await make_agent(ctx, ws, "bob@x.test", capacity=1)
    a, b = await queued_conversations(ctx, ws, 2)
    async with ctx.db.uow() as uow:
        await claim(uow, ctx.bus, workspace_id=ws, conversation_id=a, agent=ann, actor="ann")
    with pytest.raises(CapacityFull):
        async with ctx.db.uow() as uow:
            await claim(uow, ctx.bus, workspace_id=ws, conversation_id=b, agent=ann, actor="ann")
    with pytest.raises(NotClaimable):  # taken conversations need a supervisor's reassign
        async with ctx.db.uow() as uow:
            await claim(uow, ctx.bus, workspace_id=ws, conversation_id=a, agent=bob, actor="bob")
    async with ctx.db.uow() as uow:
        await claim(
            uow,
            ctx.bus,
            workspace_id=ws,
            conversation_id=a,
            agent=bob,
            actor="sup",
            how="assign",
            allow_reassign=True,
        )
    assert (await conversation(ctx, a)).assigned_agent_id == bob.id
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Conversation, a)
        assert row is not None
        await routing.hand_back(uow, ctx.bus, row, actor="bob")
    back = await conversation(ctx, a)
    assert (back.status, back.assigned_agent_id) == (BOT, None)
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Conversation, b)
        assert row is not None
        await routing.close(uow, ctx.bus, row, reason="spam", actor="bob")
    closed = await conversation(ctx, b)
    assert (closed.status, closed.close_reason) == (CLOSED, "spam")
    async with ctx.db.session() as session:
        log = list(
            (await session.execute(select(InboxAssignment).order_by(InboxAssignment.id))).scalars()
        )
    assert [(x.agent_id, x.how, x.ended_at is not None) for x in log] == [
        (ann.id, "take", True),
        (bob.id, "assign", True),
    ]
    # Another workspace's agent cannot claim here.
    async with ctx.db.uow() as uow:
        from toonbank.workspaces.service import create_workspace

        other, _ = await create_workspace(uow.session, ctx.secret_box, ctx.channels, "other")
    eve = await make_agent(ctx, other.id, "eve@x.test")
    [c] = await queued_conversations(ctx, ws, 1)
    with pytest.raises(NotClaimable):
        async with ctx.db.uow() as uow:
            await claim(uow, ctx.bus, workspace_id=ws, conversation_id=c, agent=eve, actor="eve")


# ------------------------------------------------------------------------------------------
# Concurrency (PostgreSQL: real row locks, many connections)
# ------------------------------------------------------------------------------------------
@pytest.fixture
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("row-lock concurrency is a PostgreSQL property (SQLite serializes writers)")


async def _processes(settings: Settings, n: int) -> list[Context]:
    contexts = [create_context(settings) for _ in range(n)]
    for c in contexts:
        await c.start()
    return contexts


async def test_racing_routers_and_agents_never_double_assign(
    postgres_only: None, ctx: Context, settings: Settings, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    capacities = [1, 2, 3, 4, 2, 3, 1, 4]  # 20 slots
    agents = [
        await make_agent(ctx, ws, f"a{i}@x.test", capacity=cap) for i, cap in enumerate(capacities)
    ]
    ids = await queued_conversations(ctx, ws, 35)
    processes = await _processes(settings, 3)
    rng = random.Random(7)
    claims: Counter[str] = Counter()

    async def router(proc: Context) -> None:
        for _ in range(5):
            await route_all(proc, ws)
            await asyncio.sleep(0)

    async def agent_pulls(proc: Context, agent: Agent) -> None:
        for _ in range(6):
            async with proc.db.uow() as uow:
                await route_next(uow, proc.bus, ws, only_agent=agent)

    async def agent_grabs(proc: Context, agent: Agent) -> None:
        for cid in rng.sample(ids, 10):  # everyone goes for the same few conversations
            try:
                async with proc.db.uow() as uow:
                    await claim(
                        uow, proc.bus, workspace_id=ws, conversation_id=cid, agent=agent, actor="x"
                    )
                claims[cid] += 1
            except (NotClaimable, CapacityFull):
                pass

    try:
        tasks = [router(p) for p in processes for _ in range(2)]
        tasks += [agent_pulls(processes[i % 3], a) for i, a in enumerate(agents)]
        tasks += [agent_grabs(processes[(i + 1) % 3], a) for i, a in enumerate(agents)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
        await route_all(processes[0], ws)  # a last pass: anything left must be unservable
    finally:
        for p in processes:
            await p.close()

    async with ctx.db.session() as session:
        rows = list(
            (await session.execute(select(Conversation).where(Conversation.workspace_id == ws)))
            .scalars()
            .all()
        )
        profiles = {
            p.agent_id: p for p in (await session.execute(select(AgentProfile))).scalars().all()
        }
        transitions = Counter(
            cid
            for (cid,) in await session.execute(
                select(ConversationTransition.conversation_id).where(
                    ConversationTransition.to_status == ASSIGNED
                )
            )
        )
        open_log = Counter(
            cid
            for (cid,) in await session.execute(
                select(InboxAssignment.conversation_id).where(InboxAssignment.ended_at.is_(None))
            )
        )
        log_total = await session.scalar(select(func.count()).select_from(InboxAssignment))
    assigned = [r for r in rows if r.status == ASSIGNED]
    queued = [r for r in rows if r.status == QUEUED]
    load = Counter(r.assigned_agent_id for r in assigned)
    # Capacity is never exceeded, and every slot got used: nothing stranded in the queue.
    for agent in agents:
        assert load[agent.id] <= profiles[agent.id].capacity
    assert len(assigned) == sum(capacities) == 20
    assert len(queued) == 35 - 20
    # No conversation was ever assigned twice (each assignment is one transition, one log row).
    assert all(n == 1 for n in transitions.values()), transitions
    assert sorted(transitions) == sorted(r.id for r in assigned)
    assert open_log == Counter({r.id: 1 for r in assigned})
    assert log_total == 20
    assert all(n == 1 for n in claims.values())


async def test_many_agents_one_conversation_and_one_slot_many_conversations(
    postgres_only: None, ctx: Context, settings: Settings, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    agents = [await make_agent(ctx, ws, f"a{i}@x.test", capacity=3) for i in range(10)]
    [target] = await queued_conversations(ctx, ws, 1)
    lone = await make_agent(ctx, ws, "lone@x.test", capacity=1, availability="away")
    many = await queued_conversations(ctx, ws, 12)
    processes = await _processes(settings, 4)
    outcomes: list[str] = []

    async def grab(proc: Context, agent: Agent, cid: str) -> None:
        try:
            async with proc.db.uow() as uow:
                await claim(
                    uow, proc.bus, workspace_id=ws, conversation_id=cid, agent=agent, actor="x"
                )
            outcomes.append(f"ok:{cid}:{agent.id}")
        except NotClaimable:
            outcomes.append("taken")
        except CapacityFull:
            outcomes.append("full")

    try:
        await asyncio.gather(
            *[grab(processes[i % 4], a, target) for i, a in enumerate(agents)],
            *[grab(processes[i % 4], lone, cid) for i, cid in enumerate(many)],
        )
    finally:
        for p in processes:
            await p.close()
    wins = [o for o in outcomes if o.startswith(f"ok:{target}:")]
    assert len(wins) == 1 and outcomes.count("taken") == 9
    lone_wins = [o for o in outcomes if o.endswith(f":{lone.id}")]
    assert len(lone_wins) == 1 and outcomes.count("full") == 11
    async with ctx.db.session() as session:
        load = await routing.loads(session, ws)
    assert load[lone.id] == 1 and sum(load.values()) == 2


async def test_a_handover_by_the_assistant_is_routed_to_an_online_agent(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    from tests.helpers import api_connection, message_payload, post_signed

    from toonbank.pipeline.worker import Worker

    ws = workspace["id"]
    ann = await make_agent(ctx, ws, "ann@x.test", capacity=2)
    conn = await api_connection(ctx, ws)
    await post_signed(app_client, conn.id, message_payload("h1", "cust-9", "hi"))
    await Worker(ctx).drain()
    # The placeholder assistant's menu has "Talk to a person" (payload menu:human).
    reply = {
        "messages": [
            {
                "id": "h2",
                "from": "cust-9",
                "content": {"type": "reply", "payload": "menu:human", "title": "Talk to a person"},
            }
        ]
    }
    await post_signed(app_client, conn.id, reply)
    await Worker(ctx).drain()
    async with ctx.db.session() as session:
        conversation = await session.scalar(select(Conversation))
    assert conversation is not None
    assert conversation.status == "assigned"
    assert conversation.assigned_agent_id == ann.id
