"""Inbox teams: who belongs to which team, and when a team is open. Never commits.

A conversation routed to a team (``InboxConversation.team_id``) is offered only to that team's
members, and only while the team is open (its business hours, ``commerce.hours`` schedule in
the team's time zone); otherwise it waits in the queue. Conversations without a team go to
anyone eligible.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce.hours import HoursError, OpeningHours
from toonbank.db.portable import insert_ignore
from toonbank.kit.clock import now
from toonbank.models import Agent, InboxConversation, InboxTeam, InboxTeamMember

MAX_MEMBERS: Final = 500
MAX_EXCEPTIONS: Final = 400


class TeamError(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def schedule(team: InboxTeam) -> OpeningHours | None:
    """The team's opening hours; None when it has none (always open)."""
    hours = team.hours or {}
    if not hours.get("weekly"):
        return None
    return OpeningHours.from_json(team.timezone, hours.get("weekly"), hours.get("exceptions"))


def is_open(team: InboxTeam, at: datetime | None = None) -> bool:
    hours = schedule(team)
    return hours is None or hours.is_open(at or now())


def team_view(team: InboxTeam, members: list[str]) -> dict[str, Any]:
    hours = schedule(team)
    return {
        "id": team.id,
        "name": team.name,
        "timezone": team.timezone,
        "hours": team.hours or {},
        "open": is_open(team),
        "next_opening": (
            None if hours is None or hours.is_open(now()) else _iso(hours.next_opening(now()))
        ),
        "first_response_seconds": team.first_response_seconds,
        "next_response_seconds": team.next_response_seconds,
        "members": members,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def teams_of(session: AsyncSession, workspace_id: str) -> dict[str, InboxTeam]:
    rows = await session.execute(select(InboxTeam).where(InboxTeam.workspace_id == workspace_id))
    return {t.id: t for t in rows.scalars()}


async def memberships(session: AsyncSession, workspace_id: str) -> dict[str, set[str]]:
    """Agent id → the ids of their teams."""
    rows = await session.execute(
        select(InboxTeamMember.agent_id, InboxTeamMember.team_id).where(
            InboxTeamMember.workspace_id == workspace_id
        )
    )
    out: dict[str, set[str]] = defaultdict(set)
    for agent_id, team_id in rows:
        out[agent_id].add(team_id)
    return out


async def save_team(
    session: AsyncSession,
    workspace_id: str,
    *,
    team_id: str | None,
    name: str,
    timezone: str,
    hours: dict[str, Any],
    first_response_seconds: int | None,
    next_response_seconds: int | None,
    members: list[str] | None,
) -> InboxTeam:
    """Create or update a team (validates the hours and that members belong here)."""
    weekly, exceptions = hours.get("weekly") or {}, hours.get("exceptions") or []
    if not isinstance(weekly, dict) or len(weekly) > 7 or not isinstance(exceptions, list):
        raise TeamError("invalid_request", "hours: weekly is {day: ranges} for at most 7 days")
    if len(exceptions) > MAX_EXCEPTIONS:
        raise TeamError("invalid_request", f"hours: at most {MAX_EXCEPTIONS} exceptions")
    try:
        OpeningHours.from_json(timezone, hours.get("weekly"), hours.get("exceptions"))
    except HoursError as exc:
        raise TeamError("invalid_request", str(exc)) from None
    if team_id is None:
        team = InboxTeam(workspace_id=workspace_id, created_at=now())
        session.add(team)
    else:
        found = await session.get(InboxTeam, team_id[:32])
        if found is None or found.workspace_id != workspace_id:
            raise TeamError("not_found", "no such team in this workspace")
        team = found
    team.name = name
    team.timezone = timezone
    team.hours = {"weekly": hours.get("weekly") or {}, "exceptions": hours.get("exceptions") or []}
    team.first_response_seconds = first_response_seconds
    team.next_response_seconds = next_response_seconds
    await session.flush()
    if members is not None:
        await _set_members(session, team, members)
    return team


async def _set_members(session: AsyncSession, team: InboxTeam, members: list[str]) -> None:
    wanted = sorted(set(members))[:MAX_MEMBERS]
    if wanted:
        found = set(
            (
                await session.execute(
                    select(Agent.id).where(
                        Agent.id.in_(wanted), Agent.workspace_id == team.workspace_id
                    )
                )
            ).scalars()
        )
        missing = set(wanted) - found
        if missing:
            raise TeamError("not_found", "some members are not agents of this workspace")
    await session.execute(delete(InboxTeamMember).where(InboxTeamMember.team_id == team.id))
    for agent_id in wanted:
        session.add(
            InboxTeamMember(team_id=team.id, agent_id=agent_id, workspace_id=team.workspace_id)
        )
    await session.flush()


async def members_of(session: AsyncSession, team_ids: list[str]) -> dict[str, list[str]]:
    rows = await session.execute(
        select(InboxTeamMember.team_id, InboxTeamMember.agent_id)
        .where(InboxTeamMember.team_id.in_(team_ids))
        .order_by(InboxTeamMember.agent_id)
    )
    out: dict[str, list[str]] = defaultdict(list)
    for team_id, agent_id in rows:
        out[team_id].append(agent_id)
    return out


async def inbox_state(session: AsyncSession, conversation_id: str, workspace_id: str) -> Any:
    """The conversation's inbox row, created on first use (race-free: insert or ignore)."""
    await session.execute(
        insert_ignore(session, InboxConversation.__table__, ("conversation_id",)).values(
            conversation_id=conversation_id, workspace_id=workspace_id, reassigned=0
        )
    )
    row = await session.get(InboxConversation, conversation_id, populate_existing=True)
    assert row is not None and row.workspace_id == workspace_id
    return row


async def states_of(session: AsyncSession, ids: set[str]) -> dict[str, InboxConversation]:
    if not ids:
        return {}
    rows = await session.execute(
        select(InboxConversation).where(InboxConversation.conversation_id.in_(ids))
    )
    return {r.conversation_id: r for r in rows.scalars()}
