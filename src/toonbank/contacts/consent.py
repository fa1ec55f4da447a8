"""Channel opt-outs: a customer who sent STOP (or whom the provider reports as opted out) is
not messaged on that channel type again until they opt back in (START)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.models import Contact

KEY = "opted_out_channels"


async def set_opt_out(
    session: AsyncSession, contact_id: str, channel_type: str, opted_out: bool
) -> None:
    """Record (or clear) the contact's opt-out for one channel type."""
    contact = await session.get(Contact, contact_id)
    if contact is None:
        return
    current = set((contact.attributes or {}).get(KEY, []))
    updated = current | {channel_type} if opted_out else current - {channel_type}
    if updated != current:
        contact.attributes = {**(contact.attributes or {}), KEY: sorted(updated)}


async def opted_out(session: AsyncSession, contact_ids: set[str]) -> dict[str, set[str]]:
    """contact id → channel types the contact opted out of."""
    if not contact_ids:
        return {}
    rows = await session.execute(
        select(Contact.id, Contact.attributes).where(Contact.id.in_(contact_ids))
    )
    return {cid: set((attrs or {}).get(KEY, [])) for cid, attrs in rows if (attrs or {}).get(KEY)}
