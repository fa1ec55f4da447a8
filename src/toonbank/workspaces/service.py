"""Creating and finding workspaces (tenants)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.auth.service import create_api_key
from toonbank.channels.connections import create_connection
from toonbank.channels.registry import ChannelRegistry
from toonbank.kit.crypto import SecretBox
from toonbank.models import Workspace

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class WorkspaceExists(ValueError):
    pass


async def create_workspace(
    session: AsyncSession, box: SecretBox, registry: ChannelRegistry, name: str
) -> tuple[Workspace, str]:
    """A workspace with a full-access API key and its built-in web-chat and terminal channels."""
    if not NAME.match(name):
        raise ValueError("workspace name: lowercase letters, digits, '-' and '_' (max 63)")
    if await workspace_by_name(session, name) is not None:
        raise WorkspaceExists(f"workspace {name!r} already exists")
    workspace = Workspace(name=name, settings={})
    session.add(workspace)
    await session.flush()
    key = await create_api_key(session, workspace.id)
    for type_, title in (("webchat", "Web chat"), ("terminal", "Terminal")):
        await create_connection(
            session, box, registry, workspace_id=workspace.id, type=type_, name=title, values={}
        )
    return workspace, key


async def workspace_by_name(session: AsyncSession, name: str) -> Workspace | None:
    return (
        await session.execute(select(Workspace).where(Workspace.name == name))
    ).scalar_one_or_none()
