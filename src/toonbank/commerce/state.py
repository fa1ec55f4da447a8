"""The per-workspace catalog revision: a counter bumped in every transaction that changes
products, variants or stock, and written onto the rows it changed.

Writers of one workspace serialise on its ``catalog_state`` row (the UPDATE takes a row lock
until commit), so revisions become visible in order and a reader that has seen revision *n*
finds every later change with ``revision > n``. Search indexes rely on that.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.db.portable import insert_ignore
from toonbank.kit.clock import now
from toonbank.models import CatalogState

_TABLE = cast(Table, CatalogState.__table__)


async def bump_revision(session: AsyncSession, workspace_id: str) -> int:
    """Take the next revision for ``workspace_id`` (within the caller's transaction)."""
    statement = (
        update(_TABLE)
        .where(_TABLE.c.workspace_id == workspace_id)
        .values(revision=_TABLE.c.revision + 1, updated_at=now())
        .returning(_TABLE.c.revision)
    )
    revision = (await session.execute(statement)).scalar_one_or_none()
    if revision is None:
        await session.execute(
            insert_ignore(session, _TABLE, ["workspace_id"]).values(
                workspace_id=workspace_id, revision=0, updated_at=now()
            )
        )
        revision = (await session.execute(statement)).scalar_one()
    return int(revision)


async def current_revision(session: AsyncSession, workspace_id: str) -> int:
    value = await session.scalar(
        select(CatalogState.revision).where(CatalogState.workspace_id == workspace_id)
    )
    return int(value or 0)
