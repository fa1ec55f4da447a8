"""Inbox test helpers: agents with routing profiles, queued conversations."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from tests.helpers import api_connection, message_payload, post_signed

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


PASSWORD = "password-123"


@dataclass
class World:
    """A live server; workspace ``acme`` (agents ann, bob; supervisor sue) with one queued
    conversation, and workspace ``rival`` (owner eve)."""

    url: str
    ws: dict[str, str]
    other: dict[str, str]
    conversation_id: str


async def login(url: str, workspace: str, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=10)
    response = await client.post(
        "/auth/login", json={"workspace": workspace, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return client


async def customer_conversation(
    ctx: Context, url: str, workspace: dict[str, str], sender: str, text: str
) -> str:
    """A customer writes on an API channel; the conversation is handed over (queued)."""
    connection = await api_connection(ctx, workspace["id"])
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await post_signed(
            client, connection.id, message_payload(f"m-{time.monotonic_ns()}", sender, text)
        )
        assert response.status_code == 200, response.text
        key = {"authorization": f"Bearer {workspace['api_key']}"}
        for _ in range(200):
            rows = (await client.get("/api/v1/conversations", headers=key)).json()
            if rows:
                break
            await asyncio.sleep(0.05)
        [row] = rows
        handover = await client.post(
            f"/api/v1/conversations/{row['id']}/status",
            json={"status": "queued", "reason": "customer asked for a person"},
            headers=key,
        )
        assert handover.status_code == 200, handover.text
        return str(row["id"])
