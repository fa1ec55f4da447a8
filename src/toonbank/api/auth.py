"""Agent login sessions (cookie based; the inbox UI builds on these)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from toonbank.api.deps import SESSION_COOKIE, current_agent, get_ctx
from toonbank.api.errors import ApiError
from toonbank.api.schemas import AgentOut, LoginIn
from toonbank.auth.service import PERMISSIONS, SESSION_DAYS, login
from toonbank.context import Context
from toonbank.kit.crypto import sha256_hex
from toonbank.models import Agent, AgentSession
from toonbank.workspaces.service import workspace_by_name

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=AgentOut)
async def do_login(
    body: LoginIn, request: Request, response: Response, ctx: Context = Depends(get_ctx)
) -> Any:
    host = request.client.host if request.client else "unknown"
    if not await request.app.state.login_limiter.hit("login", host, body.email.lower()):
        raise ApiError(429, "rate_limited", "too many login attempts; wait a minute")
    async with ctx.db.uow() as uow:
        workspace = await workspace_by_name(uow.session, body.workspace)
        result = (
            await login(uow.session, workspace.id, body.email, body.password) if workspace else None
        )
    if result is None:
        raise ApiError(401, "invalid_credentials", "wrong workspace, email or password")
    agent, token = result
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return agent


@router.get("/me")
async def me(agent: Agent = Depends(current_agent)) -> dict[str, Any]:
    return {
        **AgentOut.model_validate(agent).model_dump(),
        "workspace_id": agent.workspace_id,
        "permissions": sorted(PERMISSIONS.get(agent.role, ())),
    }


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, ctx: Context = Depends(get_ctx)) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with ctx.db.uow() as uow:
            row = await uow.session.get(AgentSession, sha256_hex(token))
            if row is not None:
                await uow.session.delete(row)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response
