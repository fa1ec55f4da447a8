"""The ASGI application: routes, middleware, and the lifespan that owns the context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from starlette.types import Receive, Scope, Send

from toonbank.api import auth as auth_api
from toonbank.api import contacts as contacts_api
from toonbank.api import rest, webhooks
from toonbank.api.errors import install_error_handlers
from toonbank.assistant import api as assistant_api
from toonbank.assistant import metrics_api as assistant_metrics_api
from toonbank.channels.connections import find_connection
from toonbank.commerce import api as commerce_api
from toonbank.commerce import fulfilment_api, orders_api, recommend_api
from toonbank.commerce.payments import page as pay_page
from toonbank.config import Settings
from toonbank.context import Context, create_context
from toonbank.inbox import api as inbox_api
from toonbank.inbox import attachments as inbox_attachments
from toonbank.inbox import canned as inbox_canned
from toonbank.inbox import selling as inbox_selling
from toonbank.inbox import web as inbox_web
from toonbank.inbox import work as inbox_work
from toonbank.inbox.suggestions import api as suggestions_api
from toonbank.inbox.suggestions import drafting
from toonbank.knowledge import api as knowledge_api
from toonbank.ops import api as ops_api
from toonbank.ops.limits import BodySizeLimit, RateLimiter
from toonbank.pipeline.worker import Worker
from toonbank.webchat import api as webchat_api
from toonbank.workspaces.service import workspace_by_name

log = structlog.get_logger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
DEMO_WORKSPACE = "demo"


class ToonbankApp(FastAPI):
    """FastAPI with one shortcut: provider webhooks skip the framework on their happy path
    (:func:`toonbank.api.webhooks.receive_fast`); everything else is a normal FastAPI app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context: Context | None = getattr(self.state, "ctx", None)
        if context is not None and webhooks.is_webhook_post(scope):
            await webhooks.receive_fast(context, scope, receive, send, super().__call__)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, ctx: Context | None = None) -> FastAPI:
    """Build the app. Pass ``ctx`` to share one context (tests, ``toonbank chat``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = ctx or create_context(settings)
        await context.start()
        app.state.ctx = context
        drafting.install(context.generative)  # reply drafts only when the LLM layer is on
        worker = Worker(context) if settings.embedded_worker else None
        if worker is not None:
            await worker.start()
        app.state.worker = worker
        log.info("toonbank_started", embedded_worker=worker is not None)
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            for limiter in (
                app.state.widget_limiter,
                app.state.message_limiter,
                app.state.login_limiter,
            ):
                await limiter.close()
            drafting.install(None)
            if ctx is None:
                await context.close()

    app = ToonbankApp(
        title="Toonbank",
        version="0.1.0",
        summary="Conversational commerce: one durable conversation per customer on every channel.",
        lifespan=lifespan,
    )
    app.state.widget_limiter = RateLimiter(settings.widget_rate_limit, settings.redis_url)
    app.state.message_limiter = RateLimiter("30/minute", settings.redis_url)
    app.state.login_limiter = RateLimiter("10/minute", settings.redis_url)
    install_error_handlers(app)
    for router in (
        ops_api.router,
        webhooks.router,
        webchat_api.router,
        rest.router,
        contacts_api.router,
        commerce_api.router,
        orders_api.router,
        fulfilment_api.router,
        recommend_api.router,
        pay_page.router,
        assistant_api.router,
        assistant_metrics_api.router,
        auth_api.router,
        inbox_api.router,
        inbox_api.ws_router,
        inbox_work.router,
        inbox_selling.router,
        inbox_attachments.router,
        inbox_web.router,
        suggestions_api.router,
        inbox_canned.router,
        knowledge_api.router,
    ):
        app.include_router(router)

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def demo_shop(request: Request) -> HTMLResponse:
        context: Context = request.app.state.ctx
        async with context.db.session() as session:
            workspace = await workspace_by_name(session, DEMO_WORKSPACE)
            connection = (
                await find_connection(session, workspace.id, "webchat") if workspace else None
            )
        if connection is None:
            return HTMLResponse(
                "<h1>Toonbank</h1><p>No demo workspace. Start with <code>toonbank serve --demo"
                "</code>.</p>",
                status_code=200,
            )
        page = (STATIC / "demo.html").read_text().replace("{{CONNECTION_ID}}", connection.id)
        return HTMLResponse(page)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
        )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        large_bytes=settings.max_upload_bytes + 64 * 1024,
        large_prefixes=("/webchat/", "/api/v1/inbox/conversations/"),
    )
    return app
