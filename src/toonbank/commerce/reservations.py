"""Stock reservations: checkout holds the units an order needs, so two customers can never buy
the last one twice.

Each hold is one conditional statement per stock row, ``UPDATE stock_levels SET reserved =
reserved + :n WHERE id = :id AND quantity - reserved >= :n``. On PostgreSQL a concurrent
checkout waits for the row lock and then re-evaluates the condition against the committed
values; SQLite has one writer. Either way the sellable quantity (``quantity - reserved``) never
goes below zero. A variant without stock rows is not tracked and holds nothing.

The held units are written as ``stock_reservations`` rows (order, variant, location, quantity):

- ``release_order`` (payment failed/expired/cancelled, order cancelled) gives them back;
- ``consume_order`` (fulfilled or shipped) takes them out of ``quantity`` for good;
- ``restock_order`` (a returned order whose goods can be sold again) puts consumed units back
  into ``quantity`` at the location they left from.

Each row moves ``held → released | consumed → restocked`` once, through a guarded update, so
a repeated call changes nothing. Every change bumps the workspace's catalog revision (search
sees the new sellable counts); the revision row is locked before any stock row (one lock
order).
Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce.state import bump_revision
from toonbank.kit.clock import now
from toonbank.models import StockLevel, StockReservation

HELD, RELEASED, CONSUMED, RESTOCKED = "held", "released", "consumed", "restocked"
_RETRIES: Final = 3


class OutOfStock(Exception):
    def __init__(self, variant_id: str, available: int) -> None:
        super().__init__(f"only {available} left")
        self.variant_id = variant_id
        self.available = available


@dataclass(frozen=True, slots=True)
class Hold:
    variant_id: str
    location_id: str
    quantity: int


async def _levels(session: AsyncSession, workspace_id: str, variant_id: str) -> list[StockLevel]:
    rows = await session.execute(
        select(StockLevel)
        .where(StockLevel.workspace_id == workspace_id, StockLevel.variant_id == variant_id)
        .order_by((StockLevel.quantity - StockLevel.reserved).desc(), StockLevel.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


async def _take(session: AsyncSession, level_id: str, quantity: int, revision: int) -> bool:
    taken = await session.execute(
        update(StockLevel)
        .where(StockLevel.id == level_id, StockLevel.quantity - StockLevel.reserved >= quantity)
        .values(reserved=StockLevel.reserved + quantity, revision=revision, updated_at=now())
        .returning(StockLevel.id)
    )
    return taken.scalar_one_or_none() is not None


async def _give_back(
    session: AsyncSession, hold: Hold, revision: int, *, consume: bool = False
) -> None:
    """Lower ``reserved`` (and with ``consume`` the quantity) of one stock row, never below 0."""
    values = {
        "reserved": case(
            (StockLevel.reserved >= hold.quantity, StockLevel.reserved - hold.quantity), else_=0
        ),
        "revision": revision,
        "updated_at": now(),
    }
    if consume:
        values["quantity"] = case(
            (StockLevel.quantity >= hold.quantity, StockLevel.quantity - hold.quantity), else_=0
        )
    await session.execute(
        update(StockLevel)
        .where(StockLevel.location_id == hold.location_id, StockLevel.variant_id == hold.variant_id)
        .values(**values)
    )


async def hold(
    session: AsyncSession, workspace_id: str, wanted: list[tuple[str, int]]
) -> list[Hold]:
    """Reserve ``quantity`` of every ``(variant_id, quantity)`` across locations (the fullest
    first). All or nothing: on ``OutOfStock`` what was taken is given back."""
    revision = await bump_revision(session, workspace_id)
    holds: list[Hold] = []
    try:
        for variant_id, quantity in wanted:
            holds.extend(await _hold_one(session, workspace_id, variant_id, quantity, revision))
    except OutOfStock:
        for taken in holds:
            await _give_back(session, taken, revision)
        raise
    return holds


async def _hold_one(
    session: AsyncSession, workspace_id: str, variant_id: str, quantity: int, revision: int
) -> list[Hold]:
    holds: list[Hold] = []
    need = quantity
    for _ in range(_RETRIES):
        levels = await _levels(session, workspace_id, variant_id)
        if not levels:
            return []  # not tracked
        for level in levels:
            available = level.quantity - level.reserved
            take = min(need, available)
            if take <= 0:
                continue
            if await _take(session, level.id, take, revision):
                holds.append(Hold(variant_id, level.location_id, take))
                need -= take
                if not need:
                    return holds
        # a concurrent checkout got there first: read the levels again
    for taken in holds:
        await _give_back(session, taken, revision)
    raise OutOfStock(variant_id, max(quantity - need, 0))


def record(
    session: AsyncSession, workspace_id: str, order_id: str, holds: list[Hold]
) -> list[StockReservation]:
    rows = [
        StockReservation(
            workspace_id=workspace_id,
            order_id=order_id,
            variant_id=h.variant_id,
            location_id=h.location_id,
            quantity=h.quantity,
            status=HELD,
        )
        for h in holds
    ]
    session.add_all(rows)
    return rows


async def held_for(session: AsyncSession, workspace_id: str, order_id: str) -> list[Hold]:
    rows = await session.execute(
        select(StockReservation).where(
            StockReservation.workspace_id == workspace_id,
            StockReservation.order_id == order_id,
            StockReservation.status == HELD,
        )
    )
    return [Hold(r.variant_id, r.location_id, r.quantity) for r in rows.scalars()]


async def _claim(
    session: AsyncSession, workspace_id: str, order_id: str, current: str, status: str
) -> list[Hold]:
    """Move the order's rows from ``current`` to ``status`` (guarded: once); what moved."""
    await session.flush()
    claimed = await session.execute(
        update(StockReservation)
        .where(
            StockReservation.workspace_id == workspace_id,
            StockReservation.order_id == order_id,
            StockReservation.status == current,
        )
        .values(status=status, updated_at=now())
        .returning(
            StockReservation.variant_id, StockReservation.location_id, StockReservation.quantity
        )
    )
    return [Hold(v, loc, q) for v, loc, q in claimed.all()]


async def _finish(session: AsyncSession, workspace_id: str, order_id: str, status: str) -> int:
    holds = await _claim(session, workspace_id, order_id, HELD, status)
    if not holds:
        return 0
    revision = await bump_revision(session, workspace_id)
    for taken in holds:
        await _give_back(session, taken, revision, consume=status == CONSUMED)
    return sum(h.quantity for h in holds)


async def release_order(session: AsyncSession, workspace_id: str, order_id: str) -> int:
    """Give the order's held units back; returns how many."""
    return await _finish(session, workspace_id, order_id, RELEASED)


async def consume_order(session: AsyncSession, workspace_id: str, order_id: str) -> int:
    """The held units leave the shelf (fulfilled/shipped): quantity and reserved go down."""
    return await _finish(session, workspace_id, order_id, CONSUMED)


async def restock_order(session: AsyncSession, workspace_id: str, order_id: str) -> int:
    """A returned order's consumed units go back on the shelf they left; returns how many.

    Only what this order took off the shelf comes back, and only once.
    """
    holds = await _claim(session, workspace_id, order_id, CONSUMED, RESTOCKED)
    if not holds:
        return 0
    revision = await bump_revision(session, workspace_id)
    for back in holds:
        await session.execute(
            update(StockLevel)
            .where(
                StockLevel.location_id == back.location_id,
                StockLevel.variant_id == back.variant_id,
            )
            .values(
                quantity=StockLevel.quantity + back.quantity, revision=revision, updated_at=now()
            )
        )
    return sum(h.quantity for h in holds)
