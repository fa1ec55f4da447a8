"""Request dependencies: the context, API-key principals, agent sessions."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request

from toonbank.api.errors import ApiError
from toonbank.auth.service import KeyPrincipal, agent_for_session, authenticate_key
from toonbank.context import Context
from toonbank.models import Agent

SESSION_COOKIE = "toonbank_session"


async def get_ctx(request: Request) -> Context:
    # async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, which
    # cost every request two thread hops (~4% of a busy server's CPU in the turn benchmark).
    ctx: Context = request.app.state.ctx
    return ctx


def require_scope(scope: str) -> Callable[..., Coroutine[Any, Any, KeyPrincipal]]:
    """Dependency: a valid workspace API key (``Authorization: Bearer tbk_…``) with ``scope``."""

    async def dependency(request: Request, ctx: Context = Depends(get_ctx)) -> KeyPrincipal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <API key>'")
        async with ctx.db.session() as session:
            principal = await authenticate_key(session, token.strip())
        if principal is None:
            raise ApiError(401, "unauthorized", "API key is not valid")
        if not principal.allows(scope):
            raise ApiError(403, "forbidden", f"API key lacks scope {scope!r}")
        return principal

    return dependency


async def current_agent(request: Request, ctx: Context = Depends(get_ctx)) -> Agent:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise ApiError(401, "unauthorized", "log in first")
    async with ctx.db.session() as session:
        agent = await agent_for_session(session, token)
    if agent is None:
        raise ApiError(401, "unauthorized", "session expired; log in again")
    return agent
