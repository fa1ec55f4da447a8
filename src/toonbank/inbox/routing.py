"""Inbox routing: the queue, agents' capacity, and atomic claims. Never commits.

A claim (an agent takes a conversation, the router assigns one, a supervisor reassigns one)
runs in one transaction that locks, in this order (the lock order of the whole code base:
contacts, then conversations, then the rest):

1. the contact row (``record_event`` needs it anyway),
2. the conversation row, re-read under the lock: it must still be claimable,
3. the agent's ``agent_profiles`` row, then counts the agent's assigned conversations.

Step 3 is what keeps capacity exact: two claims for the same agent serialize on the profile
row, and under READ COMMITTED the count that follows the lock sees the other claim's commit.
Step 2 is what prevents double assignment: the second claimant finds the conversation already
``assigned`` and gives up. On SQLite, transactions are serialized by the database's write lock
(and :class:`toonbank.db.UnitOfWork`'s), so the same checks hold without row locks.

The router (``route_next``) only ever *skips* locked rows (``SKIP LOCKED``) and never waits
while holding a lock another router wants, so routers racing each other cannot deadlock; a
pass that skipped something says so (``busy``) and the caller simply runs another pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.conversations.events import record_agent_event, record_event
from toonbank.conversations.service import change_status
from toonbank.conversations.states import ASSIGNED, BOT, CLOSED, QUEUED
from toonbank.db.portable import insert_ignore
from toonbank.db.uow import UnitOfWork
from toonbank.inbox.policy import Policy, policy_for
from toonbank.inbox.teams import is_open, memberships, states_of, teams_of
from toonbank.kit.clock import now
from toonbank.models import (
    Agent,
    AgentProfile,
    Contact,
    Conversation,
    InboxAssignment,
    InboxConversation,
    InboxTeam,
)
from toonbank.realtime import Bus

AVAILABILITY: Final = ("online", "away", "offline")
DEFAULT_CAPACITY: Final = 5
MAX_CAPACITY: Final = 100
CANDIDATES: Final = 50


class RoutingError(Exception):
    """A claim that cannot happen; ``code`` is the API error code."""

    code = "routing_error"
    status = 409

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotClaimable(RoutingError):
    code = "not_claimable"


class CapacityFull(RoutingError):
    code = "capacity_full"


class Busy(RoutingError):
    """Another transaction holds the conversation right now; try again."""

    code = "busy"


def _pg(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# ------------------------------------------------------------------------------------------
# Profiles
# ------------------------------------------------------------------------------------------
async def ensure_profile(session: AsyncSession, agent: Agent) -> AgentProfile:
    """The agent's routing profile, created (offline, default capacity) on first use."""
    table = AgentProfile.__table__
    await session.execute(
        insert_ignore(session, table, ("agent_id",)).values(
            agent_id=agent.id,
            workspace_id=agent.workspace_id,
            availability="offline",
            capacity=DEFAULT_CAPACITY,
            skills=[],
            languages=[],
            updated_at=now(),
        )
    )
    profile = await session.get(AgentProfile, agent.id)
    assert profile is not None
    return profile


async def update_profile(
    uow: UnitOfWork,
    bus: Bus,
    agent: Agent,
    *,
    availability: str | None = None,
    capacity: int | None = None,
    skills: list[str] | None = None,
    languages: list[str] | None = None,
) -> AgentProfile:
    profile = await ensure_profile(uow.session, agent)
    if availability is not None:
        if availability not in AVAILABILITY:
            raise ValueError(f"availability must be one of {', '.join(AVAILABILITY)}")
        profile.availability = availability
    if capacity is not None:
        if not 0 <= capacity <= MAX_CAPACITY:
            raise ValueError(f"capacity must be between 0 and {MAX_CAPACITY}")
        profile.capacity = capacity
    if skills is not None:
        profile.skills = sorted({s.strip().lower() for s in skills if s.strip()})
    if languages is not None:
        profile.languages = sorted({x.strip().lower() for x in languages if x.strip()})
    profile.updated_at = now()
    await record_event(
        uow,
        bus,
        workspace_id=agent.workspace_id,
        type="agent_status",
        data={
            "agent_id": agent.id,
            "availability": profile.availability,
            "capacity": profile.capacity,
        },
        public=False,
    )
    return profile


async def loads(session: AsyncSession, workspace_id: str) -> dict[str, int]:
    """Agent id → how many open conversations are assigned to them."""
    rows = await session.execute(
        select(Conversation.assigned_agent_id, func.count())
        .where(
            Conversation.workspace_id == workspace_id,
            Conversation.status == ASSIGNED,
            Conversation.assigned_agent_id.is_not(None),
        )
        .group_by(Conversation.assigned_agent_id)
    )
    return {agent_id: int(n) for agent_id, n in rows if agent_id}


async def _load_of(session: AsyncSession, agent_id: str) -> int:
    value = await session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.assigned_agent_id == agent_id, Conversation.status == ASSIGNED)
    )
    return int(value or 0)


# ------------------------------------------------------------------------------------------
# Locking
# ------------------------------------------------------------------------------------------
async def _lock_contact(uow: UnitOfWork, contact_id: str, *, skip_locked: bool) -> bool:
    """Lock the contact row (PostgreSQL); False when ``skip_locked`` and someone holds it."""
    if contact_id in uow.locked or not _pg(uow.session):
        uow.locked.add(contact_id)
        return True
    got = await uow.session.scalar(
        select(Contact.id)
        .where(Contact.id == contact_id)
        .with_for_update(key_share=True, skip_locked=skip_locked)
    )
    if got is None:
        return False
    uow.locked.add(contact_id)
    return True


async def locked_conversation(uow: UnitOfWork, conversation_id: str) -> Conversation | None:
    query = select(Conversation).where(Conversation.id == conversation_id)
    if _pg(uow.session):
        query = query.with_for_update()
    result = await uow.session.execute(query.execution_options(populate_existing=True))
    return result.scalar_one_or_none()


async def _locked_profile(
    uow: UnitOfWork, agent_id: str, *, skip_locked: bool = False
) -> AgentProfile | None:
    query = select(AgentProfile).where(AgentProfile.agent_id == agent_id)
    if _pg(uow.session):
        query = query.with_for_update(skip_locked=skip_locked)
    result = await uow.session.execute(query.execution_options(populate_existing=True))
    return result.scalar_one_or_none()


# ------------------------------------------------------------------------------------------
# Claims
# ------------------------------------------------------------------------------------------
async def _assign_locked(
    uow: UnitOfWork,
    bus: Bus,
    conversation: Conversation,
    profile: AgentProfile,
    *,
    how: str,
    actor: str,
) -> None:
    """Both rows are locked and checked: assign, log, and announce."""
    session = uow.session
    moment = now()
    await end_assignment(session, conversation.id, f"reassigned ({how})")
    previous = conversation.status
    if previous == BOT:  # taken straight from the assistant: the customer waits from now on
        conversation.queued_at = moment
    await change_status(
        uow,
        bus,
        conversation,
        ASSIGNED,
        reason=f"{how} by {actor}",
        actor=actor,
        agent_id=profile.agent_id,
    )
    session.add(
        InboxAssignment(
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            agent_id=profile.agent_id,
            actor=actor,
            how=how,
            assigned_at=moment,
        )
    )
    profile.last_assigned_at = moment
    await session.execute(  # whoever was skipped after not answering may be preferred again
        update(InboxConversation)
        .where(
            InboxConversation.conversation_id == conversation.id,
            InboxConversation.skip_agent_id.is_not(None),
            InboxConversation.skip_agent_id != profile.agent_id,
        )
        .values(skip_agent_id=None)
        .execution_options(synchronize_session=False)
    )
    await record_agent_event(
        uow,
        bus,
        conversation,
        "assignment",
        **{"agent_id": profile.agent_id, "from": previous, "how": how},
    )


async def end_assignment(session: AsyncSession, conversation_id: str, reason: str) -> None:
    await session.execute(
        update(InboxAssignment)
        .where(
            InboxAssignment.conversation_id == conversation_id,
            InboxAssignment.ended_at.is_(None),
        )
        .values(ended_at=now(), ended_reason=reason[:255])
        .execution_options(synchronize_session=False)
    )


async def claim(
    uow: UnitOfWork,
    bus: Bus,
    *,
    workspace_id: str,
    conversation_id: str,
    agent: Agent,
    actor: str,
    how: str = "take",
    allow_reassign: bool = False,
) -> Conversation:
    """Assign one conversation to ``agent`` atomically (see the module docstring).

    ``take``: the agent picks a conversation that nobody serves (status ``bot`` or ``queued``).
    With ``allow_reassign`` (supervisors) an ``assigned`` conversation moves to ``agent``.
    Raises :class:`NotClaimable` or :class:`CapacityFull`; the caller's transaction then
    rolls back.
    """
    session = uow.session
    if agent.workspace_id != workspace_id or agent.disabled_at is not None:
        raise NotClaimable("the agent cannot serve this workspace")
    current = await session.get(Conversation, conversation_id)
    if current is None or current.workspace_id != workspace_id:
        raise NotClaimable("no such conversation in this workspace")
    await _lock_contact(uow, current.contact_id, skip_locked=False)
    conversation = await locked_conversation(uow, conversation_id)
    assert conversation is not None
    allowed = {BOT, QUEUED} | ({ASSIGNED} if allow_reassign else set())
    if conversation.closed_at is not None or conversation.status not in allowed:
        if conversation.status == ASSIGNED and conversation.assigned_agent_id == agent.id:
            return conversation  # already yours: taking it again changes nothing
        raise NotClaimable(f"the conversation is {conversation.status}; it cannot be taken")
    if conversation.assigned_agent_id == agent.id:
        return conversation
    await ensure_profile(session, agent)
    profile = await _locked_profile(uow, agent.id)
    assert profile is not None
    if await _load_of(session, agent.id) >= profile.capacity:
        raise CapacityFull(f"{agent.display_name} is at capacity ({profile.capacity})")
    await _assign_locked(uow, bus, conversation, profile, how=how, actor=actor)
    return conversation


def _eligible(profile: AgentProfile, conversation: Conversation) -> bool:
    skill = (conversation.routing_skill or "").lower()
    if skill and skill not in (profile.skills or []):
        return False
    language = (conversation.language or "").lower().split("-")[0]
    languages = [x.split("-")[0] for x in profile.languages or []]
    return not (language and languages and language not in languages)


async def sticky_agents(session: AsyncSession, contact_ids: set[str]) -> dict[str, str]:
    """Contact id → the agent who served the customer most recently."""
    if not contact_ids:
        return {}
    latest = (
        select(InboxAssignment.contact_id, func.max(InboxAssignment.id).label("last"))
        .where(InboxAssignment.contact_id.in_(contact_ids))
        .group_by(InboxAssignment.contact_id)
        .subquery()
    )
    rows = await session.execute(
        select(InboxAssignment.contact_id, InboxAssignment.agent_id).join(
            latest, InboxAssignment.id == latest.c.last
        )
    )
    return {contact_id: agent_id for contact_id, agent_id in rows}


def queue_order() -> tuple[Any, ...]:
    return (
        Conversation.priority.desc(),
        func.coalesce(Conversation.queued_at, Conversation.created_at),
        Conversation.id,
    )


@dataclass(frozen=True, slots=True)
class _Rules:
    """What a routing pass needs besides the profiles: teams, their hours, the policy."""

    policy: Policy
    teams: dict[str, InboxTeam]
    members: dict[str, set[str]]
    states: dict[str, InboxConversation]

    def eligible(
        self, conversation: Conversation, profiles: list[AgentProfile], *, hours: bool
    ) -> list[AgentProfile]:
        state = self.states.get(conversation.id)
        team = self.teams.get(state.team_id) if state and state.team_id else None
        if team is not None:
            if hours and not is_open(team):
                return []  # the team is closed: the conversation waits in the queue
            profiles = [p for p in profiles if team.id in self.members.get(p.agent_id, ())]
        return [p for p in profiles if _eligible(p, conversation)]

    def order(
        self, conversation: Conversation, sticky: str | None, load: dict[str, int]
    ) -> Callable[[AgentProfile], tuple[Any, ...]]:
        """Sort key: not the agent who just failed to answer, then the customer's last agent,
        then least busy (or round robin), ties to whoever waited longest."""
        state = self.states.get(conversation.id)
        skip = state.skip_agent_id if state else None
        round_robin = self.policy.strategy == "round_robin"

        def key(p: AgentProfile) -> tuple[Any, ...]:
            waited = p.last_assigned_at.timestamp() if p.last_assigned_at else 0.0
            busy = 0 if round_robin else load.get(p.agent_id, 0)
            return (p.agent_id == skip, p.agent_id != sticky, busy, waited, p.agent_id)

        return key


async def _rules(session: AsyncSession, workspace_id: str, conversation_ids: set[str]) -> _Rules:
    return _Rules(
        policy=await policy_for(session, workspace_id),
        teams=await teams_of(session, workspace_id),
        members=await memberships(session, workspace_id),
        states=await states_of(session, conversation_ids),
    )


@dataclass(frozen=True, slots=True)
class RouteResult:
    """One routing step: ``assigned`` (conversation, agent), ``idle`` or ``busy`` (retry)."""

    outcome: str
    conversation_id: str | None = None
    agent_id: str | None = None


async def route_next(
    uow: UnitOfWork, bus: Bus, workspace_id: str, *, only_agent: Agent | None = None
) -> RouteResult:
    """Assign the first queued conversation that some available agent can serve.

    Queue order: priority, then waiting time. Agent choice: the customer's last agent when
    eligible and not full (sticky), else the least busy, ties to whoever waited longest since
    their last assignment. Skills and languages must match. ``only_agent``: the agent asks for
    their next conversation ("take next") and is the only candidate, whatever their status.
    """
    session = uow.session
    query = select(AgentProfile).join(Agent, Agent.id == AgentProfile.agent_id)
    query = query.where(AgentProfile.workspace_id == workspace_id, Agent.disabled_at.is_(None))
    if only_agent is not None:
        await ensure_profile(session, only_agent)
        query = query.where(AgentProfile.agent_id == only_agent.id)
    else:
        query = query.where(AgentProfile.availability == "online")
    profiles = list((await session.execute(query)).scalars())
    if not profiles:
        return RouteResult("idle")
    load = await loads(session, workspace_id)
    profiles = [p for p in profiles if load.get(p.agent_id, 0) < p.capacity]
    if not profiles:
        return RouteResult("idle")
    candidates = list(
        (
            await session.execute(
                select(Conversation)
                .where(Conversation.workspace_id == workspace_id, Conversation.status == QUEUED)
                .order_by(*queue_order())
                .limit(CANDIDATES)
            )
        ).scalars()
    )
    sticky = await sticky_agents(session, {c.contact_id for c in candidates})
    rules = await _rules(session, workspace_id, {c.id for c in candidates})
    busy = False
    for candidate in candidates:
        eligible = rules.eligible(candidate, profiles, hours=only_agent is None)
        if not eligible:
            continue
        eligible.sort(key=rules.order(candidate, sticky.get(candidate.contact_id), load))
        if not await _lock_contact(uow, candidate.contact_id, skip_locked=True):
            busy = True
            continue
        conversation = await locked_conversation(uow, candidate.id)
        if conversation is None or conversation.status != QUEUED:
            continue  # someone took it meanwhile
        for profile in eligible:
            locked = await _locked_profile(uow, profile.agent_id, skip_locked=True)
            if locked is None:
                busy = True
                continue
            if only_agent is None and locked.availability != "online":
                continue
            if await _load_of(session, locked.agent_id) >= locked.capacity:
                continue
            await _assign_locked(
                uow,
                bus,
                conversation,
                locked,
                how="take" if only_agent is not None else "route",
                actor=f"agent:{only_agent.id}" if only_agent is not None else "router",
            )
            return RouteResult("assigned", conversation.id, locked.agent_id)
    return RouteResult("busy" if busy else "idle")


async def route_all(ctx: Any, workspace_id: str, *, limit: int = 1000) -> int:
    """Route until nothing more can be assigned; one transaction per assignment."""
    assigned = 0
    busy_passes = 0
    while assigned < limit:
        async with ctx.db.uow() as uow:
            result = await route_next(uow, ctx.bus, workspace_id)
        if result.outcome == "assigned":
            assigned += 1
            busy_passes = 0
        elif result.outcome == "busy" and busy_passes < 50:
            busy_passes += 1
        else:
            break
    return assigned


async def route_queued(ctx: Any, *, limit: int = 200) -> int:
    """Assign waiting conversations in every workspace that has some (the worker's routing
    stage: woken when a conversation is queued, e.g. handed over by the assistant, and swept
    periodically). Returns how many were assigned."""
    async with ctx.db.session() as session:
        workspaces = list(
            (
                await session.execute(
                    select(Conversation.workspace_id)
                    .where(Conversation.status == QUEUED)
                    .distinct()
                    .limit(100)
                )
            ).scalars()
        )
    assigned = 0
    for workspace_id in workspaces:
        assigned += await route_all(ctx, workspace_id, limit=limit)
    return assigned


# ------------------------------------------------------------------------------------------
# Leaving the agent
# ------------------------------------------------------------------------------------------
async def _leave(
    uow: UnitOfWork,
    bus: Bus,
    conversation: Conversation,
    target: str,
    *,
    reason: str,
    actor: str,
) -> Conversation:
    await _lock_contact(uow, conversation.contact_id, skip_locked=False)
    locked = await locked_conversation(uow, conversation.id)
    assert locked is not None
    if locked.closed_at is not None:
        raise NotClaimable("the conversation is closed")
    if locked.status == target and target != CLOSED:
        return locked
    await end_assignment(uow.session, locked.id, reason)
    await change_status(uow, bus, locked, target, reason=reason, actor=actor)
    return locked


async def hand_back(
    uow: UnitOfWork, bus: Bus, conversation: Conversation, *, actor: str
) -> Conversation:
    """The assistant answers the customer again."""
    return await _leave(
        uow, bus, conversation, BOT, reason="handed back to the assistant", actor=actor
    )


async def release(
    uow: UnitOfWork, bus: Bus, conversation: Conversation, *, actor: str
) -> Conversation:
    """Put the conversation back in the queue for another agent."""
    return await _leave(uow, bus, conversation, QUEUED, reason="returned to the queue", actor=actor)


async def close(
    uow: UnitOfWork, bus: Bus, conversation: Conversation, *, reason: str, actor: str
) -> Conversation:
    return await _leave(uow, bus, conversation, CLOSED, reason=reason, actor=actor)
