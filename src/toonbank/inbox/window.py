"""The channel's free-reply window as the inbox shows it (the dispatcher enforces it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import ContactIdentity, Conversation


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def window_state(
    ctx: Context, session: AsyncSession, conversation: Conversation
) -> dict[str, Any]:
    """May an agent write free text now? (the channel's session window; see dispatch)."""
    if conversation.last_connection_id is None:
        return {"open": False, "channel": None, "reason": "no_channel", "templates_only": False}
    connection = await ctx.connections.get(conversation.last_connection_id)
    if connection is None:
        return {"open": False, "channel": None, "reason": "no_channel", "templates_only": False}
    manifest = ctx.channels.get(connection.type).manifest
    state: dict[str, Any] = {"channel": connection.type, "connection_id": connection.id}
    window = manifest.session_window_seconds
    if window is None:
        return {**state, "open": True, "closes_at": None, "human_agent_tag": False}
    heard = await session.scalar(
        select(ContactIdentity.last_inbound_at)
        .where(
            ContactIdentity.contact_id == conversation.contact_id,
            ContactIdentity.connection_id == connection.id,
        )
        .order_by(ContactIdentity.last_inbound_at.desc().nulls_last())
        .limit(1)
    )
    extended = manifest.human_agent_window_seconds
    for seconds, tagged in ((window, False), (extended, True)):
        if heard is not None and seconds and now() <= heard + timedelta(seconds=seconds):
            closes = heard + timedelta(seconds=seconds)
            return {**state, "open": True, "closes_at": _iso(closes), "human_agent_tag": tagged}
    limit = (extended or window) / 3600
    return {
        **state,
        "open": False,
        "reason": "window_closed",
        "templates_only": True,
        "hint": (
            f"The customer last wrote over {limit:g} h ago on {connection.type}: only an "
            "approved template may be sent now (content type 'template' with its name and "
            "language), until they write again."
        ),
        "templates": templates_of(connection.settings or {}),
    }


def templates_of(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The connection's approved templates (``settings["templates"]``), as the composer offers
    them: name, language, preview text and how many variables each needs. The setting is a
    list, or a JSON text of one (channel settings set over REST are strings)."""
    raw = settings.get("templates") or []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = [name.strip() for name in raw.split(",") if name.strip()]
    out = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not item.get("name"):
            continue
        out.append(
            {
                "name": str(item["name"])[:512],
                "language": str(item.get("language") or "en")[:15],
                "text": str(item.get("text") or item.get("name"))[:1024],
                "variables": int(item.get("variables") or 0),
            }
        )
    return out[:50]
