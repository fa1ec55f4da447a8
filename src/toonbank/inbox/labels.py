"""Conversation labels (free-form, lower-case, per workspace)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.models import InboxLabel


async def labels_of(session: AsyncSession, ids: set[str]) -> dict[str, list[str]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(InboxLabel.conversation_id, InboxLabel.label)
        .where(InboxLabel.conversation_id.in_(ids))
        .order_by(InboxLabel.label)
    )
    out: dict[str, list[str]] = {}
    for cid, label in rows:
        out.setdefault(cid, []).append(label)
    return out
