"""Channel connections: create them (secrets sealed) and load them (secrets opened, cached)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.channels.base import Connection
from toonbank.channels.registry import ChannelRegistry
from toonbank.db.engine import Database
from toonbank.kit.crypto import SecretBox
from toonbank.models import ChannelConnection


class ConnectionSettingsError(ValueError):
    pass


async def create_connection(
    session: AsyncSession,
    box: SecretBox,
    registry: ChannelRegistry,
    *,
    workspace_id: str,
    type: str,
    name: str,
    values: dict[str, Any],
    api_base_url: str | None = None,
    rate_per_second: int | None = None,
) -> ChannelConnection:
    """Split ``values`` into public settings and sealed secrets per the channel's manifest."""
    manifest = registry.get(type).manifest
    missing = [key for key in manifest.required_settings if not values.get(key)]
    if missing:
        raise ConnectionSettingsError(f"{type} needs settings: {', '.join(missing)}")
    secrets = {k: v for k, v in values.items() if k in manifest.secret_settings}
    public = {k: v for k, v in values.items() if k not in manifest.secret_settings}
    row = ChannelConnection(
        workspace_id=workspace_id,
        type=type,
        name=name,
        api_base_url=api_base_url,
        settings=public,
        secrets_encrypted=box.seal(secrets),
        rate_per_second=rate_per_second,
    )
    session.add(row)
    await session.flush()
    return row


def to_connection(row: ChannelConnection, box: SecretBox) -> Connection:
    return Connection(
        id=row.id,
        workspace_id=row.workspace_id,
        type=row.type,
        name=row.name,
        api_base_url=row.api_base_url,
        settings=dict(row.settings or {}),
        secrets=box.open(row.secrets_encrypted),
        rate_per_second=row.rate_per_second,
    )


class ConnectionCache:
    """Per-process cache of decrypted connections (webhook hot path), refreshed every ``ttl``."""

    def __init__(self, db: Database, box: SecretBox, ttl: float = 30.0) -> None:
        self._db = db
        self._box = box
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Connection | None]] = {}

    async def get(self, connection_id: str) -> Connection | None:
        entry = self._entries.get(connection_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        async with self._db.session() as session:
            row = await session.get(ChannelConnection, connection_id)
        connection = (
            to_connection(row, self._box) if row is not None and row.disabled_at is None else None
        )
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[connection_id] = (time.monotonic() + self._ttl, connection)
        return connection

    def invalidate(self, connection_id: str | None = None) -> None:
        if connection_id is None:
            self._entries.clear()
        else:
            self._entries.pop(connection_id, None)


async def find_connection(
    session: AsyncSession, workspace_id: str, type: str
) -> ChannelConnection | None:
    result = await session.execute(
        select(ChannelConnection)
        .where(
            ChannelConnection.workspace_id == workspace_id,
            ChannelConnection.type == type,
            ChannelConnection.disabled_at.is_(None),
        )
        .order_by(ChannelConnection.created_at)
        .limit(1)
    )
    return result.scalar_one_or_none()
