"""Compare-and-set leases: exactly one live worker owns a conversation, message or job."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.db.portable import insert_ignore
from toonbank.kit.clock import now
from toonbank.models import Conversation, WorkerLease
from toonbank.models.base import table_of

# Core tables: plain UPDATEs, no ORM bulk-update planning.
_L = table_of(WorkerLease)
_C = table_of(Conversation)


async def claim_singleton(session: AsyncSession, name: str, owner: str, seconds: float) -> bool:
    """Own the named singleton job (e.g. ``normalize``) unless a live worker does."""
    await session.execute(
        insert_ignore(session, _L, ("name",)).values(name=name, owner=None, lease_until=None)
    )
    moment = now()
    result = await session.execute(
        update(_L)
        .where(
            _L.c.name == name,
            or_(
                _L.c.owner.is_(None),
                _L.c.owner == owner,
                _L.c.lease_until < moment,
            ),
        )
        .values(owner=owner, lease_until=moment + timedelta(seconds=seconds))
    )
    return bool(getattr(result, "rowcount", 0))


async def release_singleton(session: AsyncSession, name: str, owner: str) -> None:
    await session.execute(
        update(_L)
        .where(_L.c.name == name, _L.c.owner == owner)
        .values(owner=None, lease_until=None)
    )


async def claim_conversations(
    session: AsyncSession, conversation_ids: list[str], owner: str, seconds: float
) -> list[str]:
    """Lease every conversation no live worker owns; returns the ones we got."""
    if not conversation_ids:
        return []
    moment = now()
    result = await session.execute(
        update(_C)
        .where(
            _C.c.id.in_(conversation_ids),
            or_(
                _C.c.lease_owner.is_(None),
                _C.c.lease_owner == owner,
                _C.c.lease_until < moment,
            ),
        )
        .values(lease_owner=owner, lease_until=moment + timedelta(seconds=seconds))
        .returning(_C.c.id)
    )
    return list(result.scalars())


async def release_conversations(
    session: AsyncSession, conversation_ids: list[str], owner: str
) -> list[str]:
    """Release our leases; returns the conversations that were still ours."""
    if not conversation_ids:
        return []
    result = await session.execute(
        update(_C)
        .where(_C.c.id.in_(conversation_ids), _C.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .returning(_C.c.id)
    )
    return list(result.scalars())
