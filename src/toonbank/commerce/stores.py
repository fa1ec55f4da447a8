"""Stores and other stock locations: opening hours, services, "open now", "near me", "in stock".

What the assistant and agents ask: which store near me is open now, which has this variant in
stock, when does it open next. Hours are evaluated in each store's own time zone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce.hours import HoursError, OpeningHours
from toonbank.kit.clock import now
from toonbank.models import Location, StockLevel

KINDS = ("store", "warehouse")
EARTH_KM = 6371.0088


@dataclass
class StoreIn:
    code: str
    name: str
    kind: str = "store"
    address: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    phone: str | None = None
    timezone: str = "Europe/Amsterdam"
    opening_hours: dict[str, Any] | None = None
    exceptions: list[dict[str, Any]] | None = None
    services: list[str] | None = None
    active: bool = True


def hours_of(location: Location) -> OpeningHours:
    return OpeningHours.from_json(location.timezone, location.opening_hours, location.exceptions)


async def upsert_store(session: AsyncSession, workspace_id: str, data: StoreIn) -> Location:
    """Create or replace the location ``data.code`` (hours are validated and normalised)."""
    if data.kind not in KINDS:
        raise HoursError(f"kind must be one of {', '.join(KINDS)}")
    if not data.code.strip() or len(data.code) > 64:
        raise HoursError("code: 1 to 64 characters")
    if (data.latitude is None) != (data.longitude is None):
        raise HoursError("give both latitude and longitude, or neither")
    if data.latitude is not None and not (-90 <= data.latitude <= 90):
        raise HoursError("latitude must be between -90 and 90")
    if data.longitude is not None and not (-180 <= data.longitude <= 180):
        raise HoursError("longitude must be between -180 and 180")
    hours = OpeningHours.from_json(data.timezone, data.opening_hours, data.exceptions)
    weekly, exceptions = hours.to_json()
    location = (
        await session.execute(
            select(Location).where(
                Location.workspace_id == workspace_id, Location.code == data.code
            )
        )
    ).scalar_one_or_none()
    if location is None:
        location = Location(workspace_id=workspace_id, code=data.code)
        session.add(location)
    location.name = data.name
    location.kind = data.kind
    location.address = data.address
    location.postcode = data.postcode
    location.city = data.city
    location.country = data.country.upper() if data.country else None
    location.latitude = data.latitude
    location.longitude = data.longitude
    location.phone = data.phone
    location.timezone = data.timezone
    location.opening_hours = weekly
    location.exceptions = exceptions
    location.services = list(data.services or [])
    location.active = data.active
    location.updated_at = now()
    await session.flush()
    return location


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(a))


def store_json(
    location: Location,
    at: datetime | None = None,
    *,
    distance: float | None = None,
    stock: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": location.id,
        "code": location.code,
        "name": location.name,
        "kind": location.kind,
        "address": location.address,
        "postcode": location.postcode,
        "city": location.city,
        "country": location.country,
        "latitude": location.latitude,
        "longitude": location.longitude,
        "phone": location.phone,
        "timezone": location.timezone,
        "opening_hours": location.opening_hours,
        "exceptions": location.exceptions,
        "services": location.services,
    }
    if at is not None and location.kind == "store":
        out["status"] = hours_of(location).status(at)
    if distance is not None:
        out["distance_km"] = round(distance, 2)
    if stock is not None:
        out["stock"] = stock
    return out


async def find_stores(
    session: AsyncSession,
    workspace_id: str,
    *,
    at: datetime | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    open_now: bool = False,
    variant_id: str | None = None,
    min_quantity: int = 1,
    service: str | None = None,
    city: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Stores of a workspace, nearest first when a position is given.

    ``open_now`` keeps stores open at ``at``; ``variant_id`` keeps stores that have at least
    ``min_quantity`` sellable units of it (and reports the count).
    """
    moment = at or now()
    stores: Sequence[Location] = (
        (
            await session.execute(
                select(Location).where(
                    Location.workspace_id == workspace_id,
                    Location.kind == "store",
                    Location.active.is_(True),
                )
            )
        )
        .scalars()
        .all()
    )
    stock: dict[str, int] = {}
    if variant_id is not None:
        rows = await session.execute(
            select(StockLevel.location_id, StockLevel.quantity - StockLevel.reserved).where(
                StockLevel.workspace_id == workspace_id, StockLevel.variant_id == variant_id
            )
        )
        stock = {row[0]: int(row[1]) for row in rows}
    found: list[tuple[float, str, dict[str, Any]]] = []
    for store in stores:
        if open_now and not hours_of(store).is_open(moment):
            continue
        if variant_id is not None and stock.get(store.id, 0) < min_quantity:
            continue
        if service and service not in (store.services or []):
            continue
        if city and (store.city or "").casefold() != city.casefold():
            continue
        distance = None
        if latitude is not None and longitude is not None and store.latitude is not None:
            distance = distance_km(latitude, longitude, store.latitude, store.longitude or 0.0)
        key = distance if distance is not None else math.inf
        found.append(
            (
                key,
                store.name,
                store_json(
                    store,
                    moment,
                    distance=distance,
                    stock=stock.get(store.id, 0) if variant_id else None,
                ),
            )
        )
    found.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in found[:limit]]
