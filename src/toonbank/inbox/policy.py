"""A workspace's inbox policy: routing strategy, SLA targets, auto-reassign timeout.

Read from ``Workspace.settings["inbox"]`` (all optional), e.g.::

    {"strategy": "round_robin", "first_response_seconds": 300,
     "next_response_seconds": 900, "reassign_after_seconds": 180, "warn_ratio": 0.8}

A team's own SLA targets override the workspace's for its conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.models import InboxTeam, Workspace

STRATEGIES: Final = ("least_busy", "round_robin")


@dataclass(frozen=True, slots=True)
class Policy:
    strategy: str = "least_busy"
    """``least_busy``: fewest open conversations first; ``round_robin``: whoever was assigned
    longest ago first (both prefer the customer's last agent)."""
    first_response_seconds: int = 300
    next_response_seconds: int = 900
    reassign_after_seconds: int | None = 300
    """An assigned agent who has not answered a waiting customer by then loses the
    conversation to another agent; None switches auto-reassign off."""
    warn_ratio: float = 0.8
    """A warning once this share of an SLA target has passed."""

    def for_team(self, team: InboxTeam | None) -> Policy:
        if team is None:
            return self
        return replace(
            self,
            first_response_seconds=team.first_response_seconds or self.first_response_seconds,
            next_response_seconds=team.next_response_seconds or self.next_response_seconds,
        )


def _seconds(value: Any, default: int | None) -> int | None:
    if value is None:
        return default
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else None


def parse(settings: dict[str, Any] | None) -> Policy:
    raw = (settings or {}).get("inbox") or {}
    if not isinstance(raw, dict):
        return Policy()
    base = Policy()
    strategy = raw.get("strategy", base.strategy)
    try:
        ratio = float(raw.get("warn_ratio", base.warn_ratio))
    except (TypeError, ValueError):
        ratio = base.warn_ratio
    return Policy(
        strategy=strategy if strategy in STRATEGIES else base.strategy,
        first_response_seconds=_seconds(raw.get("first_response_seconds"), 300) or 300,
        next_response_seconds=_seconds(raw.get("next_response_seconds"), 900) or 900,
        reassign_after_seconds=_seconds(
            raw.get("reassign_after_seconds", base.reassign_after_seconds), None
        ),
        warn_ratio=min(max(ratio, 0.1), 1.0),
    )


async def policy_for(session: AsyncSession, workspace_id: str) -> Policy:
    workspace = await session.get(Workspace, workspace_id)
    return parse(workspace.settings if workspace is not None else None)
