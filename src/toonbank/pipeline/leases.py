"""Compare-and-set leases: exactly one live worker owns a conversation, message or job."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.db.portable import insert_ignore
from toonbank.kit.clock import now
from toonbank.models import Conversation, WorkerLease
from toonbank.models.base import table_of

# Core tables: plain UPDATEs, no ORM bulk-update planning. The hot statements are built once
# (their SQL compiles once and their cache key is memoized; only the parameters change).
_L = table_of(WorkerLease)
_C = table_of(Conversation)
_CLAIM_SINGLETON = (
    update(_L)
    .where(
        _L.c.name == bindparam("l_name"),
        or_(
            _L.c.owner.is_(None),
            _L.c.owner == bindparam("l_owner"),
            _L.c.lease_until < bindparam("l_now"),
        ),
    )
    .values(owner=bindparam("l_owner"), lease_until=bindparam("l_until"))
)
_RELEASE_SINGLETON = (
    update(_L)
    .where(_L.c.name == bindparam("l_name"), _L.c.owner == bindparam("l_owner"))
    .values(owner=None, lease_until=None)
)
_CLAIM_CONVERSATIONS = (
    update(_C)
    .where(
        _C.c.id.in_(bindparam("c_ids", expanding=True)),
        or_(
            _C.c.lease_owner.is_(None),
            _C.c.lease_owner == bindparam("c_owner"),
            _C.c.lease_until < bindparam("c_now"),
        ),
    )
    .values(lease_owner=bindparam("c_owner"), lease_until=bindparam("c_until"))
    .returning(_C.c.id)
)
_RELEASE_CONVERSATIONS = (
    update(_C)
    .where(
        _C.c.id.in_(bindparam("c_ids", expanding=True)), _C.c.lease_owner == bindparam("c_owner")
    )
    .values(lease_owner=None, lease_until=None)
    .returning(_C.c.id)
)


async def claim_singleton(session: AsyncSession, name: str, owner: str, seconds: float) -> bool:
    """Own the named singleton job (e.g. ``normalize``) unless a live worker does.

    The compare-and-set comes first: the lease row exists after the first claim, so the
    usual claim is one statement; only when it matched nothing is the row created (a no-op
    if it exists and a live worker holds it) and the claim tried once more.
    """
    moment = now()
    params = {
        "l_name": name,
        "l_owner": owner,
        "l_now": moment,
        "l_until": moment + timedelta(seconds=seconds),
    }
    if _rowcount(await session.execute(_CLAIM_SINGLETON, params)):
        return True
    await session.execute(
        insert_ignore(session, _L, ("name",)).values(name=name, owner=None, lease_until=None)
    )
    return bool(_rowcount(await session.execute(_CLAIM_SINGLETON, params)))


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


async def release_singleton(session: AsyncSession, name: str, owner: str) -> None:
    await session.execute(_RELEASE_SINGLETON, {"l_name": name, "l_owner": owner})


async def claim_conversations(
    session: AsyncSession, conversation_ids: list[str], owner: str, seconds: float
) -> list[str]:
    """Lease every conversation no live worker owns; returns the ones we got."""
    if not conversation_ids:
        return []
    moment = now()
    result = await session.execute(
        _CLAIM_CONVERSATIONS,
        {
            "c_ids": conversation_ids,
            "c_owner": owner,
            "c_now": moment,
            "c_until": moment + timedelta(seconds=seconds),
        },
    )
    return list(result.scalars())


async def release_conversations(
    session: AsyncSession, conversation_ids: list[str], owner: str
) -> list[str]:
    """Release our leases; returns the conversations that were still ours."""
    if not conversation_ids:
        return []
    result = await session.execute(
        _RELEASE_CONVERSATIONS, {"c_ids": conversation_ids, "c_owner": owner}
    )
    return list(result.scalars())
