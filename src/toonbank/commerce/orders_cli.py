"""``toonbank orders …`` and ``toonbank payments …``: list and show orders, send a payment
link, refund. The same service functions as the REST API; messages to the customer are queued
and delivered by the running server's worker."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from toonbank.commerce.cli import AsJson, ConfigFile, DatabaseUrl, WorkspaceName, _execute, out

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from toonbank.config import Settings
    from toonbank.models import Order

orders_app = typer.Typer(help="Orders: list, show.", no_args_is_help=True)
payments_app = typer.Typer(help="Payments: send a link, refund.", no_args_is_help=True)
OrderRef = Annotated[str, typer.Argument(help="Order id or number (TB-…).")]


async def _find(session: AsyncSession, workspace_id: str, ref: str) -> Order:
    from sqlalchemy import or_, select

    from toonbank.models import Order

    order = await session.scalar(
        select(Order).where(
            Order.workspace_id == workspace_id,
            or_(Order.id == ref[:32], Order.number == ref.strip().upper()[:32]),
        )
    )
    if order is None:
        raise LookupError(f"no order {ref!r} in this workspace")
    return order


def _print(data: Any, as_json: bool, table: Table | None = None) -> None:
    if as_json or table is None:
        out.print_json(json.dumps(data))
    else:
        out.print(table)


@orders_app.command("list")
def list_orders(
    workspace: WorkspaceName,
    status: Annotated[str | None, typer.Option(help="Only orders in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """The newest orders first."""

    async def job(settings: Settings) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from toonbank.cli import _context, _workspace_id
        from toonbank.commerce.orders import order_json
        from toonbank.models import Order

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            query = select(Order).where(Order.workspace_id == workspace_id)
            if status:
                query = query.where(Order.status == status)
            query = query.order_by(Order.created_at.desc(), Order.id).limit(limit)
            async with ctx.db.session() as session:
                found = list((await session.execute(query)).scalars())
                return [await order_json(session, o, events=False) for o in found]

    rows = _execute(database_url, config, job)
    table = Table("number", "status", "total", "refunded", "created", "id")
    for o in rows:
        table.add_row(o["number"], o["status"], f"{o['total']['amount']} {o['currency']}",
                      o["refunded"]["amount"], o["created_at"][:16], o["id"])  # fmt: skip
    _print(rows, as_json, table)


@orders_app.command("show")
def show_order(
    order: OrderRef,
    workspace: WorkspaceName,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """One order with its lines, payments and history (JSON)."""

    async def job(settings: Settings) -> dict[str, Any]:
        from toonbank.cli import _context, _workspace_id
        from toonbank.commerce.orders import order_json
        from toonbank.commerce.payments.service import payment_json, payments_of

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.session() as session:
                row = await _find(session, workspace_id, order)
                data = await order_json(session, row)
                data["payments"] = [payment_json(p) for p in await payments_of(session, row)]
                return data

    _print(_execute(database_url, config, job), True)


@payments_app.command("link")
def payment_link(
    order: OrderRef,
    workspace: WorkspaceName,
    provider: Annotated[str, typer.Option(help="sandbox, stripe or mollie.")] = "sandbox",
    capture: Annotated[str, typer.Option(help="automatic, or manual (authorise only).")] = (
        "automatic"
    ),
    expires_in: Annotated[int, typer.Option(help="Minutes the link stays valid.", min=5)] = 1440,
    send: Annotated[bool, typer.Option(help="Send it into the customer's chat.")] = True,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Create a payment link for a pending order (and send it to the customer)."""
    from toonbank.cli import _fail

    if capture not in ("automatic", "manual"):
        raise _fail("--capture must be automatic or manual", 2)

    async def job(settings: Settings) -> dict[str, Any]:
        from toonbank.cli import _context, _workspace_id
        from toonbank.commerce.payments import service
        from toonbank.commerce.payments.port import PaymentError

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.uow() as uow:
                row = await _find(uow.session, workspace_id, order)
                try:
                    payment = await service.create_payment(
                        ctx, uow, row, provider=provider, send=send,
                        capture="manual" if capture == "manual" else "automatic",
                        expires_in=timedelta(minutes=expires_in),
                    )  # fmt: skip
                except PaymentError as exc:
                    raise ValueError(str(exc)) from None
                return service.payment_json(payment)

    _print(_execute(database_url, config, job), True)


@payments_app.command("refund")
def refund(
    order: OrderRef,
    workspace: WorkspaceName,
    amount: Annotated[
        str | None, typer.Option(help="Amount in the order's currency (default: all).")
    ] = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Refund part (--amount 10.00) or all of what was paid for an order."""

    async def job(settings: Settings) -> dict[str, Any]:
        from toonbank.cli import _context, _workspace_id
        from toonbank.commerce.money import Money
        from toonbank.commerce.orders import order_json
        from toonbank.commerce.payments import service
        from toonbank.commerce.payments.port import PaymentError

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.uow() as uow:
                row = await _find(uow.session, workspace_id, order)
                money = Money.of(amount, row.currency) if amount else None
                try:
                    await service.refund(ctx, uow, row, money, actor="cli")
                except PaymentError as exc:
                    raise ValueError(str(exc)) from None
                return await order_json(uow.session, row, events=False)

    _print(_execute(database_url, config, job), True)
