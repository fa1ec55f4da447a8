"""REST for fulfilment webhooks under ``/api/v1/fulfilment``: endpoints and the delivery log.

Scopes ``orders:read`` / ``orders:write``; everything is scoped to the key's workspace. The
endpoint secret is generated here (or given), sealed at rest with the installation's
``SecretBox`` and shown once, in the answer of the ``PUT`` that set it.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update

from toonbank.api.deps import get_ctx, require_scope
from toonbank.api.errors import ApiError
from toonbank.auth.service import KeyPrincipal
from toonbank.commerce import fulfilment
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.kit.crypto import new_secret
from toonbank.models import FulfilmentAttempt, FulfilmentDelivery, FulfilmentEndpoint

router = APIRouter(prefix="/api/v1/fulfilment", tags=["fulfilment"])
READ = require_scope("orders:read")
WRITE = require_scope("orders:write")
NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, max_length=len(fulfilment.EVENTS))
    secret: str | None = Field(default=None, min_length=24, max_length=255)
    rotate_secret: bool = False
    active: bool = True


async def _endpoint(session: Any, workspace_id: str, name: str) -> FulfilmentEndpoint | None:
    found: FulfilmentEndpoint | None = await session.scalar(
        select(FulfilmentEndpoint).where(
            FulfilmentEndpoint.workspace_id == workspace_id, FulfilmentEndpoint.name == name
        )
    )
    return found


@router.put("/endpoints/{name}")
async def put_endpoint(
    name: str, body: EndpointBody, principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:  # fmt: skip
    """Create or change an endpoint; the answer carries ``secret`` when one was set now."""
    if not re.match(NAME, name):
        raise ApiError(422, "invalid_request", "name: lowercase letters, digits, - and _")
    try:
        url = fulfilment.check_url(body.url)
    except fulfilment.FulfilmentError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    unknown = sorted(set(body.events) - set(fulfilment.EVENTS))
    if unknown:
        raise ApiError(422, "invalid_request", f"events: unknown {', '.join(unknown)}")
    async with ctx.db.uow() as uow:
        row = await _endpoint(uow.session, principal.workspace_id, name)
        secret = body.secret
        if row is None:
            row = FulfilmentEndpoint(workspace_id=principal.workspace_id, name=name)
            uow.session.add(row)
            secret = secret or "tbwh_" + new_secret(32)
        elif body.rotate_secret and not secret:
            secret = "tbwh_" + new_secret(32)
        if secret:
            row.secret = ctx.secret_box.seal({"secret": secret})
        row.url, row.events, row.active = url, sorted(set(body.events)), body.active
        row.updated_at = now()
        await uow.session.flush()
        result = fulfilment.endpoint_json(row)
    if secret:
        result["secret"] = secret
    return result


@router.get("/endpoints")
async def list_endpoints(
    principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(FulfilmentEndpoint)
            .where(FulfilmentEndpoint.workspace_id == principal.workspace_id)
            .order_by(FulfilmentEndpoint.name)
        )
        return [fulfilment.endpoint_json(e) for e in rows.scalars()]


@router.delete("/endpoints/{name}", status_code=204)
async def delete_endpoint(
    name: str, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> None:
    async with ctx.db.uow() as uow:
        row = await _endpoint(uow.session, principal.workspace_id, name[:64])
        if row is None:
            raise ApiError(404, "not_found", "no such endpoint")
        await uow.session.delete(row)


def _delivery_json(d: FulfilmentDelivery, name: str, attempts: list[FulfilmentAttempt]) -> Any:
    return {
        "id": d.id,
        "endpoint": name,
        "order_id": d.order_id,
        "event": d.event,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": d.next_attempt_at.isoformat() if d.status == "pending" else None,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": d.created_at.isoformat(),
        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
        "log": [
            {
                "attempt": a.attempt,
                "outcome": a.outcome,
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
                "at": a.created_at.isoformat(),
            }
            for a in attempts
        ],
    }


@router.get("/deliveries")
async def list_deliveries(
    status: str | None = Query(default=None, max_length=16),
    order_id: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=50, ge=1, le=200),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Newest first, each with every attempt (the delivery log)."""
    query = (
        select(FulfilmentDelivery, FulfilmentEndpoint.name)
        .join(FulfilmentEndpoint, FulfilmentEndpoint.id == FulfilmentDelivery.endpoint_id)
        .where(FulfilmentDelivery.workspace_id == principal.workspace_id)
    )
    if status:
        query = query.where(FulfilmentDelivery.status == status)
    if order_id:
        query = query.where(FulfilmentDelivery.order_id == order_id)
    query = query.order_by(FulfilmentDelivery.created_at.desc(), FulfilmentDelivery.id).limit(limit)
    async with ctx.db.session() as session:
        found = list((await session.execute(query)).all())
        ids = [d.id for d, _ in found]
        attempts: dict[str, list[FulfilmentAttempt]] = {i: [] for i in ids}
        if ids:
            rows = await session.execute(
                select(FulfilmentAttempt)
                .where(FulfilmentAttempt.delivery_id.in_(ids))
                .order_by(FulfilmentAttempt.attempt)
            )
            for attempt in rows.scalars():
                attempts[attempt.delivery_id].append(attempt)
        return [_delivery_json(d, name, attempts[d.id]) for d, name in found]


@router.post("/deliveries/{delivery_id}/retry")
async def retry_delivery(
    delivery_id: str, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> Any:
    """Send a ``failed`` delivery again (a fresh series of attempts)."""
    async with ctx.db.uow() as uow:
        done = await uow.session.execute(
            update(FulfilmentDelivery)
            .where(
                FulfilmentDelivery.id == delivery_id[:32],
                FulfilmentDelivery.workspace_id == principal.workspace_id,
                FulfilmentDelivery.status == "failed",
            )
            .values(status="pending", attempts=0, next_attempt_at=now())
            .returning(FulfilmentDelivery.id)
        )
        if done.scalar_one_or_none() is None:
            raise ApiError(409, "invalid_state", "only a failed delivery of this workspace")
        uow.on_commit(lambda: ctx.wake("commerce"))
    return {"id": delivery_id, "status": "pending"}
