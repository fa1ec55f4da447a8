"""Agent accounts, roles and sessions."""

from __future__ import annotations

import httpx

from toonbank.auth.service import can, create_agent
from toonbank.context import Context
from toonbank.models import Agent


async def test_login_me_logout(
    ctx: Context, app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    async with ctx.db.uow() as uow:
        agent = await create_agent(
            uow.session,
            workspace_id=workspace["id"],
            email="Ann@Shop.test",
            password="correct horse",
            role="agent",
        )
    async with ctx.db.session() as session:
        stored = await session.get(Agent, agent.id)
    assert stored is not None and stored.password_hash.startswith("$argon2id$")
    wrong = await app_client.post(
        "/auth/login", json={"workspace": "acme", "email": "ann@shop.test", "password": "nope"}
    )
    assert wrong.status_code == 401
    assert (await app_client.get("/auth/me")).status_code == 401
    ok = await app_client.post(
        "/auth/login",
        json={"workspace": "acme", "email": "ann@shop.test", "password": "correct horse"},
    )
    assert ok.status_code == 200
    assert "httponly" in ok.headers["set-cookie"].lower()
    me = (await app_client.get("/auth/me")).json()
    assert me["email"] == "ann@shop.test" and me["role"] == "agent"
    assert me["permissions"] == ["conversations:own"]
    assert (await app_client.post("/auth/logout")).status_code == 204
    assert (await app_client.get("/auth/me")).status_code == 401


async def test_agents_api_and_roles(
    app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    headers = {"authorization": f"Bearer {workspace['api_key']}"}
    created = await app_client.post(
        "/api/v1/agents",
        json={"email": "sup@shop.test", "password": "longenough", "role": "supervisor"},
        headers=headers,
    )
    assert created.status_code == 201
    assert "password" not in created.text
    dup = await app_client.post(
        "/api/v1/agents",
        json={"email": "sup@shop.test", "password": "longenough", "role": "agent"},
        headers=headers,
    )
    assert dup.status_code == 409
    bad_role = await app_client.post(
        "/api/v1/agents",
        json={"email": "x@shop.test", "password": "longenough", "role": "god"},
        headers=headers,
    )
    assert bad_role.status_code == 422
    assert can("supervisor", "conversations:reassign")
    assert not can("agent", "conversations:reassign")
    assert not can("agent", "orders:refund")
