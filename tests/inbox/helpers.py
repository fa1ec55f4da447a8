"""Inbox test helpers: agents with routing profiles, queued conversations."""

from __future__ import annotations

from sqlalchemy import select

from toonbank.auth.service import create_agent
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import Agent, AgentProfile, Contact, Conversation


async def make_agent(
    ctx: Context,
    workspace_id: str,
    email: str,
    *,
    role: str = "agent",
    capacity: int = 5,
    availability: str = "online",
    skills: list[str] | None = None,
    languages: list[str] | None = None,
    password: str = "password-123",
) -> Agent:
    async with ctx.db.uow() as uow:
        agent = await create_agent(
            uow.session, workspace_id=workspace_id, email=email, password=password, role=role
        )
        uow.session.add(
            AgentProfile(
                agent_id=agent.id,
                workspace_id=workspace_id,
                availability=availability,
                capacity=capacity,
                skills=skills or [],
                languages=languages or [],
            )
        )
    return agent


async def queued_conversations(
    ctx: Context,
    workspace_id: str,
    n: int,
    *,
    priority: int = 0,
    language: str | None = None,
    skill: str | None = None,
    status: str = "queued",
) -> list[str]:
    ids = []
    async with ctx.db.uow() as uow:
        for _ in range(n):
            contact = Contact(workspace_id=workspace_id, attributes={})
            uow.session.add(contact)
            await uow.session.flush()
            conversation = Conversation(
                workspace_id=workspace_id,
                contact_id=contact.id,
                status=status,
                bot_state={},
                priority=priority,
                language=language,
                routing_skill=skill,
                queued_at=now() if status == "queued" else None,
            )
            uow.session.add(conversation)
            await uow.session.flush()
            ids.append(conversation.id)
    return ids


async def conversation(ctx: Context, conversation_id: str) -> Conversation:
    async with ctx.db.session() as session:
        row = (
            await session.execute(select(Conversation).where(Conversation.id == conversation_id))
        ).scalar_one()
    return row
