"""Signed outbound fulfilment webhooks: endpoints, signatures and the outbox. Never commits.

A workspace registers endpoints (its fulfilment or ERP system). Every order change
(``order.paid``, ``order.shipped``, ``order.cancelled``, ``order.refunded``, …) becomes one
``fulfilment_deliveries`` row per subscribed endpoint, **in the same transaction as the order
change** (an outbox): a change that rolls back sends nothing, and a committed one is sent by
``fulfilment_delivery.deliver_due`` after commit (the worker is woken then), retried with
backoff until the receiver answers 2xx.

The request is ``POST`` with the JSON body and these headers::

    Toonbank-Event: order.paid
    Toonbank-Delivery: <delivery id, the same on every retry: dedupe on it>
    Toonbank-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

To verify (see ``verify_signature``, the reference): split the header on ``,``, take ``t`` and
every ``v1``; compute HMAC-SHA256 with the endpoint secret over the bytes ``t`` + ``"."`` +
the raw body; compare in constant time with any ``v1``; refuse when ``t`` is more than 5 minutes
from your clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.kit.clock import now
from toonbank.models import FulfilmentDelivery, FulfilmentEndpoint, new_id

EVENTS: Final = (
    "order.paid",
    "order.fulfilled",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
    "order.returned",
    "order.refunded",
    "order.partially_refunded",
    "order.tracking",
)
TOLERANCE: Final = 300
SIGNATURE_HEADER: Final = "Toonbank-Signature"
LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


class FulfilmentError(ValueError):
    pass


def check_url(url: str) -> str:
    """``https://…``; plain ``http://`` only to this machine (development)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and (host in LOOPBACK or host.startswith("127.")):
        return url
    raise FulfilmentError("url: https:// (http:// only to localhost)")


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance: int = TOLERANCE, at: int | None = None
) -> bool:
    """The receiver's check (reference implementation of the documented recipe)."""
    stamp, macs = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            stamp = int(value)
        elif key == "v1":
            macs.append(value)
    if stamp is None or not macs:
        return False
    if abs((int(time.time()) if at is None else at) - stamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, mac) for mac in macs)


def endpoint_json(endpoint: FulfilmentEndpoint) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "url": endpoint.url,
        "events": endpoint.events or [],
        "active": endpoint.active,
        "created_at": endpoint.created_at.isoformat(),
    }


async def endpoints_for(
    session: AsyncSession, workspace_id: str, event: str
) -> list[FulfilmentEndpoint]:
    """Active endpoints subscribed to ``event`` (an empty subscription list means all)."""
    rows = await session.execute(
        select(FulfilmentEndpoint).where(
            FulfilmentEndpoint.workspace_id == workspace_id,
            FulfilmentEndpoint.active.is_(True),
        )
    )
    return [e for e in rows.scalars() if not e.events or event in e.events]


def enqueue(
    session: AsyncSession,
    endpoints: list[FulfilmentEndpoint],
    *,
    order_id: str,
    event: str,
    data: dict[str, Any],
) -> list[FulfilmentDelivery]:
    """Write one delivery per endpoint into the caller's transaction (the outbox)."""
    moment = now()
    rows = []
    for endpoint in endpoints:
        delivery = FulfilmentDelivery(
            id=new_id(),
            workspace_id=endpoint.workspace_id,
            endpoint_id=endpoint.id,
            order_id=order_id,
            event=event,
            status="pending",
            attempts=0,
            next_attempt_at=moment,
            created_at=moment,
        )
        rows.append(delivery)
    session.add_all(rows)
    for delivery in rows:
        delivery.payload = {
            "id": delivery.id,
            "type": event,
            "created_at": moment.isoformat(),
            "data": data,
        }
    return rows
