"""The demo workspace: created on ``toonbank serve --demo`` when it does not exist yet, with
a fashion shop to search (catalog, stores with opening hours, shipping methods) and its
help-centre articles (knowledge base)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from toonbank.auth.service import create_agent
from toonbank.commerce.demo import seed_shop
from toonbank.context import Context
from toonbank.knowledge.demo import seed_knowledge
from toonbank.models import Agent
from toonbank.workspaces.service import create_workspace, workspace_by_name

DEMO_EMAIL = "demo@toonbank.local"
DEMO_PASSWORD = "toonbank-demo"  # noqa: S105 - a published demo login, local demo data only


@dataclass(frozen=True)
class DemoInfo:
    workspace_id: str
    created: bool
    api_key: str | None
    agent_email: str
    agent_password: str


async def ensure_demo(ctx: Context) -> DemoInfo:
    async with ctx.db.uow() as uow:
        workspace = await workspace_by_name(uow.session, "demo")
        api_key = None
        created = workspace is None
        if workspace is None:
            workspace, api_key = await create_workspace(
                uow.session, ctx.secret_box, ctx.channels, "demo"
            )
        if "responder" not in (workspace.settings or {}):
            # The demo shop is answered by the assistant (new workspaces: the placeholder).
            workspace.settings = {**(workspace.settings or {}), "responder": "assistant"}
        has_agent = await uow.session.scalar(
            select(Agent.id).where(Agent.workspace_id == workspace.id, Agent.email == DEMO_EMAIL)
        )
        if has_agent is None:
            await create_agent(
                uow.session,
                workspace_id=workspace.id,
                email=DEMO_EMAIL,
                password=DEMO_PASSWORD,
                role="owner",
                display_name="Demo Stylist",
            )
    await seed_shop(ctx.db, workspace.id)
    await seed_knowledge(ctx.db, workspace.id)
    return DemoInfo(workspace.id, created, api_key, DEMO_EMAIL, DEMO_PASSWORD)
