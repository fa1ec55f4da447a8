"""SLA timers and auto-reassign. Never commits (``check`` opens its own transactions).

Two timers run while a conversation waits for a person (status ``queued`` or ``assigned``):

- **first response**: from ``queued_at`` until an agent's first reply after it;
- **next response**: from the customer's first message after the agent's last reply, until
  the next reply.

Each timer is ``ok``, ``warning`` (``warn_ratio`` of the target has passed) or ``breached``.
The worker's periodic ``check`` records each warning and breach once (``inbox_sla_marks``, a
unique key, so several workers racing announce it once) and publishes ``sla_warning`` /
``sla_breached`` events on the workspace's inbox stream. It also **auto-reassigns**: an
assigned agent who has not answered a waiting customer ``reassign_after_seconds`` after the
assignment (or after the customer wrote, whichever is later) loses the conversation; it goes
back to the queue in its old place, and the router prefers anybody else for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.conversations.events import lock_contacts, record_agent_event
from toonbank.conversations.service import change_status
from toonbank.conversations.states import ASSIGNED, QUEUED
from toonbank.db.portable import insert_ignore
from toonbank.inbox.policy import Policy, policy_for
from toonbank.inbox.routing import end_assignment, locked_conversation, route_all
from toonbank.inbox.teams import inbox_state, states_of, teams_of
from toonbank.kit.clock import now
from toonbank.models import Conversation, InboxAssignment, InboxSlaMark, Message

log = structlog.get_logger(__name__)
WAITING: Final = (QUEUED, ASSIGNED)
BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class Timer:
    kind: str  # first | next
    started_at: datetime
    due_at: datetime
    warn_at: datetime

    def state(self, at: datetime) -> str:
        if at >= self.due_at:
            return "breached"
        return "warning" if at >= self.warn_at else "ok"

    def to_json(self, at: datetime | None = None) -> dict[str, Any]:
        moment = at or now()
        return {
            "kind": self.kind,
            "started_at": self.started_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "state": self.state(moment),
            "seconds_left": int((self.due_at - moment).total_seconds()),
        }


def _timer(kind: str, start: datetime, seconds: int, ratio: float) -> Timer:
    return Timer(
        kind,
        start,
        start + timedelta(seconds=seconds),
        start + timedelta(seconds=seconds * ratio),
    )


async def _last_agent_replies(session: AsyncSession, ids: list[str]) -> dict[str, datetime]:
    rows = await session.execute(
        select(Message.conversation_id, func.max(Message.created_at))
        .where(
            Message.conversation_id.in_(ids),
            Message.direction == "out",
            Message.sender == "agent",
        )
        .group_by(Message.conversation_id)
    )
    return {cid: at for cid, at in rows}


async def _first_unanswered(session: AsyncSession, ids: list[str]) -> dict[str, datetime]:
    """Conversation → its first customer message after the last agent reply."""
    last = (
        select(Message.conversation_id.label("cid"), func.max(Message.created_at).label("at"))
        .where(
            Message.conversation_id.in_(ids),
            Message.direction == "out",
            Message.sender == "agent",
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = await session.execute(
        select(Message.conversation_id, func.min(Message.created_at))
        .join(last, last.c.cid == Message.conversation_id)
        .where(Message.direction == "in", Message.created_at > last.c.at)
        .group_by(Message.conversation_id)
    )
    return {cid: at for cid, at in rows}


async def timers(
    session: AsyncSession, conversations: list[Conversation]
) -> dict[str, Timer | None]:
    """The running SLA timer of each conversation (None: nobody is waiting for a person)."""
    waiting = [c for c in conversations if c.status in WAITING and c.closed_at is None]
    if not waiting:
        return {c.id: None for c in conversations}
    ids = [c.id for c in waiting]
    replied = await _last_agent_replies(session, ids)
    unanswered = await _first_unanswered(session, ids)
    states = await states_of(session, set(ids))
    policies: dict[str, Policy] = {}
    teams: dict[str, Any] = {}
    out: dict[str, Timer | None] = {c.id: None for c in conversations}
    for conversation in waiting:
        ws = conversation.workspace_id
        if ws not in policies:
            policies[ws] = await policy_for(session, ws)
            teams.update(await teams_of(session, ws))
        state = states.get(conversation.id)
        policy = policies[ws].for_team(
            teams.get(state.team_id) if state and state.team_id else None
        )
        queued = conversation.queued_at or conversation.created_at
        last = replied.get(conversation.id)
        if last is None or last < queued:
            out[conversation.id] = _timer(
                "first", queued, policy.first_response_seconds, policy.warn_ratio
            )
        elif conversation.id in unanswered:
            out[conversation.id] = _timer(
                "next", unanswered[conversation.id], policy.next_response_seconds, policy.warn_ratio
            )
    return out


# ------------------------------------------------------------------------------------------
# The periodic check (worker maintenance)
# ------------------------------------------------------------------------------------------
async def check(ctx: Any) -> int:
    """Announce new SLA warnings and breaches, auto-reassign unanswered conversations.

    Returns how many things happened (marks recorded + conversations reassigned)."""
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Conversation)
            .where(Conversation.status.in_(WAITING), Conversation.closed_at.is_(None))
            .order_by(Conversation.queued_at)
            .limit(BATCH)
        )
        conversations = list(rows.scalars())
        running = await timers(session, conversations)
        assignments = await _open_assignments(session, [c.id for c in conversations])
        policies = {
            ws: await policy_for(session, ws) for ws in {c.workspace_id for c in conversations}
        }
    done = 0
    moment = now()
    reassigned: set[str] = set()
    for conversation in conversations:
        timer = running.get(conversation.id)
        if timer is None:
            continue
        level = timer.state(moment)
        if level != "ok":
            done += await _mark(ctx, conversation, timer, level)
        assignment = assignments.get(conversation.id)
        after = policies[conversation.workspace_id].reassign_after_seconds
        if conversation.status != ASSIGNED or assignment is None or after is None:
            continue
        since = max(assignment.assigned_at, timer.started_at)
        due = since + timedelta(seconds=after)
        if moment >= due and await _reassign(ctx, conversation, assignment, since):
            done += 1
            reassigned.add(conversation.workspace_id)
    if reassigned:
        for workspace_id in reassigned:
            await route_all(ctx, workspace_id)
    return done


async def _open_assignments(session: AsyncSession, ids: list[str]) -> dict[str, InboxAssignment]:
    if not ids:
        return {}
    rows = await session.execute(
        select(InboxAssignment).where(
            InboxAssignment.conversation_id.in_(ids), InboxAssignment.ended_at.is_(None)
        )
    )
    return {a.conversation_id: a for a in rows.scalars()}


async def _mark(ctx: Any, conversation: Conversation, timer: Timer, level: str) -> int:
    """Record one warning or breach; announce it only if this call inserted it."""
    async with ctx.db.uow() as uow:
        await lock_contacts(uow, {conversation.contact_id})  # lock order: contact first
        result = await uow.session.execute(
            insert_ignore(
                uow.session, InboxSlaMark.__table__, ("conversation_id", "kind", "due_at", "level")
            ).values(
                workspace_id=conversation.workspace_id,
                conversation_id=conversation.id,
                kind=timer.kind,
                due_at=timer.due_at,
                level=level,
                created_at=now(),
            )
        )
        if not getattr(result, "rowcount", 0):
            return 0
        await record_agent_event(uow, ctx.bus, conversation, f"sla_{level}", sla=timer.to_json())
    return 1


async def _reassign(
    ctx: Any, conversation: Conversation, assignment: InboxAssignment, since: datetime
) -> bool:
    """Take the conversation from an agent who did not answer; back to the queue, same place."""
    async with ctx.db.uow() as uow:
        await lock_contacts(uow, {conversation.contact_id})
        locked = await locked_conversation(uow, conversation.id)
        if (
            locked is None
            or locked.status != ASSIGNED
            or locked.assigned_agent_id != assignment.agent_id
        ):
            return False  # answered, released or reassigned meanwhile
        current = await uow.session.scalar(
            select(InboxAssignment.id).where(
                InboxAssignment.conversation_id == locked.id, InboxAssignment.ended_at.is_(None)
            )
        )
        if current != assignment.id:
            return False
        replied = await uow.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.conversation_id == locked.id,
                Message.sender == "agent",
                Message.created_at >= since,
            )
        )
        if replied:
            return False
        place = locked.queued_at
        await end_assignment(uow.session, locked.id, "no answer in time (auto-reassign)")
        await change_status(
            uow, ctx.bus, locked, QUEUED, reason="no answer in time", actor="router"
        )
        locked.queued_at = place or locked.queued_at  # keeps its place in the queue
        state = await inbox_state(uow.session, locked.id, locked.workspace_id)
        state.skip_agent_id = assignment.agent_id
        state.reassigned += 1
        await record_agent_event(
            uow, ctx.bus, locked, "auto_reassigned", from_agent_id=assignment.agent_id
        )
    log.info("inbox_auto_reassigned", conversation_id=conversation.id)
    return True
