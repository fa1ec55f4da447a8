"""Compare-and-set leases: exactly one live worker owns a conversation, message or job."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.db.portable import insert_ignore
from toonbank.kit.clock import now
from toonbank.models import Conversation, WorkerLease


async def claim_singleton(session: AsyncSession, name: str, owner: str, seconds: float) -> bool:
    """Own the named singleton job (e.g. ``normalize``) unless a live worker does."""
    await session.execute(
        insert_ignore(session, WorkerLease.__table__, ("name",)).values(
            name=name, owner=None, lease_until=None
        )
    )
    moment = now()
    result = await session.execute(
        update(WorkerLease)
        .where(
            WorkerLease.name == name,
            or_(
                WorkerLease.owner.is_(None),
                WorkerLease.owner == owner,
                WorkerLease.lease_until < moment,
            ),
        )
        .values(owner=owner, lease_until=moment + timedelta(seconds=seconds))
    )
    return bool(getattr(result, "rowcount", 0))


async def release_singleton(session: AsyncSession, name: str, owner: str) -> None:
    await session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name, WorkerLease.owner == owner)
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
        update(Conversation)
        .where(
            Conversation.id.in_(conversation_ids),
            or_(
                Conversation.lease_owner.is_(None),
                Conversation.lease_owner == owner,
                Conversation.lease_until < moment,
            ),
        )
        .values(lease_owner=owner, lease_until=moment + timedelta(seconds=seconds))
        .returning(Conversation.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())


async def release_conversations(
    session: AsyncSession, conversation_ids: list[str], owner: str
) -> list[str]:
    """Release our leases; returns the conversations that were still ours."""
    if not conversation_ids:
        return []
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id.in_(conversation_ids), Conversation.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
        .returning(Conversation.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())
