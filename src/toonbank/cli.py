"""The ``toonbank`` command line (Typer + Rich).

Every command reads the same settings as ``serve``: flags, then ``TOONBANK_*`` environment
variables, then the optional ``--config`` TOML file (``[toonbank]`` table), then defaults.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from toonbank.assistant.cli import assistant_app
from toonbank.assistant.convtests.cli import conversation_tests
from toonbank.commerce.cli import catalog_app, stores_app
from toonbank.commerce.orders_cli import orders_app, payments_app
from toonbank.config import Settings, load_settings
from toonbank.knowledge.cli import knowledge_app
from toonbank.ops.logging import configure_logging

if TYPE_CHECKING:
    from toonbank.context import Context

T = TypeVar("T")

app = typer.Typer(help="Toonbank: conversational commerce on every channel.", no_args_is_help=True)
workspaces_app = typer.Typer(help="Manage workspaces (tenants).", no_args_is_help=True)
channels_app = typer.Typer(help="Manage channel connections.", no_args_is_help=True)
agents_app = typer.Typer(help="Manage agent accounts.", no_args_is_help=True)
app.add_typer(workspaces_app, name="workspaces")
app.add_typer(channels_app, name="channels")
app.add_typer(agents_app, name="agents")
app.add_typer(catalog_app, name="catalog")
app.add_typer(stores_app, name="stores")
app.add_typer(orders_app, name="orders")
app.add_typer(payments_app, name="payments")
app.add_typer(assistant_app, name="assistant")
app.add_typer(knowledge_app, name="knowledge")
app.command("test")(conversation_tests)

err = Console(stderr=True, soft_wrap=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="TOONBANK_DATABASE_URL", help="SQLAlchemy URL."),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", envvar="TOONBANK_CONFIG", help="TOML file with a [toonbank] table."),
]
WorkspaceName = Annotated[str, typer.Option("--workspace", "-w", help="Workspace name.")]


def _settings(database_url: str | None, config: Path | None, **extra: Any) -> Settings:
    try:
        settings = load_settings(config, database_url=database_url, **extra)
    except ValueError as exc:  # a bad config file or value: say so, no traceback
        raise _fail(str(exc), 2) from None
    configure_logging(settings.log_level, settings.log_json)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _execute(
    database_url: str | None, config: Path | None, job: Callable[[Settings], Coroutine[Any, Any, T]]
) -> T:
    """Load settings, migrate, run ``job``; expected errors become a clear message and exit 1."""
    settings = _settings(database_url, config)
    _migrate(settings)
    try:
        return asyncio.run(job(settings))
    except (LookupError, ValueError) as exc:
        raise _fail(str(exc)) from None


@asynccontextmanager
async def _context(settings: Settings) -> AsyncIterator[Context]:
    from toonbank.context import create_context

    ctx = create_context(settings)
    try:
        yield ctx
    finally:
        await ctx.close()


async def _workspace_id(ctx: Context, name: str) -> str:
    from toonbank.workspaces.service import workspace_by_name

    async with ctx.db.session() as session:
        workspace = await workspace_by_name(session, name)
    if workspace is None:
        raise LookupError(f"no workspace named {name!r}")
    return workspace.id


def _migrate(settings: Settings) -> None:
    from toonbank.db.migrate import upgrade

    upgrade(settings.database_url)


@app.command()
def migrate(database_url: DatabaseUrl = None, config: ConfigFile = None) -> None:
    """Create or upgrade the database schema."""
    settings = _settings(database_url, config)
    _migrate(settings)
    err.print("[green]database is up to date[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
    demo: Annotated[bool, typer.Option("--demo", help="Seed the demo workspace if empty.")] = False,
    workers: Annotated[int, typer.Option(help="API processes (each runs a worker).")] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the pipeline worker in-process.")
    ] = False,
) -> None:
    """Serve the API, webhooks, web chat and demo shop (with an in-process worker)."""
    import os

    import uvicorn

    extra: dict[str, Any] = {"embedded_worker": False} if no_worker else {}
    settings = _settings(database_url, config, **extra)
    if "public_url" not in settings.model_fields_set:  # not configured: where we listen
        settings = settings.model_copy(update={"public_url": f"http://{host}:{port}"})
    _migrate(settings)
    settings.resolved_secret_key()  # create it once, before worker processes race for it
    if demo:
        info = asyncio.run(_seed_demo(settings))
        err.print(
            f"[bold]Demo shop:[/bold] {settings.public_url}/   "
            f"[bold]Agent login:[/bold] workspace [cyan]demo[/cyan], "
            f"{info.agent_email} / {info.agent_password}"
        )
        if info.api_key:
            err.print(f"[bold]Demo API key[/bold] (shown once): {info.api_key}")
    if workers > 1:
        # Worker processes rebuild their settings from the environment: hand everything over.
        os.environ["TOONBANK_DATABASE_URL"] = settings.database_url
        os.environ["TOONBANK_EMBEDDED_WORKER"] = str(settings.embedded_worker).lower()
        os.environ["TOONBANK_PUBLIC_URL"] = settings.public_url
        if config is not None:
            os.environ["TOONBANK_CONFIG"] = str(config.resolve())
        uvicorn.run("toonbank.asgi:app", host=host, port=port, workers=workers, log_level="warning")
    else:
        from toonbank.app import create_app
        from toonbank.context import tune_gc_for_serving

        application = create_app(settings)
        tune_gc_for_serving()
        uvicorn.run(application, host=host, port=port, log_level="warning")


async def _seed_demo(settings: Settings) -> Any:
    from toonbank.context import create_context
    from toonbank.demo import ensure_demo

    ctx = create_context(settings)
    try:
        return await ensure_demo(ctx)
    finally:
        await ctx.close()


@app.command()
def worker(database_url: DatabaseUrl = None, config: ConfigFile = None) -> None:
    """Run a pipeline worker (normalize, process, dispatch) until SIGTERM / Ctrl-C."""
    settings = _settings(database_url, config)
    _migrate(settings)
    _run_fast(_run_worker(settings))


def _run_fast(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived service on uvloop when it is installed (as uvicorn does for ``serve``)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


async def _run_worker(settings: Settings) -> None:
    from toonbank.context import create_context, tune_gc_for_serving
    from toonbank.pipeline.worker import Worker

    ctx = create_context(settings)
    await ctx.start()
    tune_gc_for_serving()
    runner = Worker(ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    await stop.wait()
    await runner.stop()
    await ctx.close()


@workspaces_app.command("create")
def workspaces_create(
    name: str, database_url: DatabaseUrl = None, config: ConfigFile = None
) -> None:
    """Create a workspace; prints its id and an API key (shown only this once) as JSON."""
    settings = _settings(database_url, config)
    _migrate(settings)
    try:
        result = asyncio.run(_create_workspace(settings, name))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps(result))


async def _create_workspace(settings: Settings, name: str) -> dict[str, str]:
    from toonbank.context import create_context
    from toonbank.workspaces.service import create_workspace

    ctx = create_context(settings)
    try:
        async with ctx.db.uow() as uow:
            workspace, key = await create_workspace(uow.session, ctx.secret_box, ctx.channels, name)
        return {"id": workspace.id, "name": workspace.name, "api_key": key}
    finally:
        await ctx.close()


@channels_app.command("add")
def channels_add(
    channel_type: Annotated[str, typer.Argument(metavar="TYPE", help="Channel type.")],
    workspace: WorkspaceName,
    name: Annotated[str, typer.Option("--name", help="Connection name.")],
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="Provider API base URL.")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="KEY=VALUE setting (repeatable).")
    ] = None,
    rate: Annotated[int | None, typer.Option("--rate", help="Max sends per second.")] = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Connect a channel; prints JSON with its id and the webhook URL for the provider."""
    values: dict[str, str] = {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--set expects KEY=VALUE, got {item!r}", 2)
        values[key.strip()] = value

    async def job(settings: Settings) -> dict[str, Any]:
        from sqlalchemy.exc import IntegrityError

        from toonbank.api.rest import channel_out
        from toonbank.channels.connections import create_connection
        from toonbank.channels.registry import UnknownChannelType

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            try:
                async with ctx.db.uow() as uow:
                    row = await create_connection(
                        uow.session,
                        ctx.secret_box,
                        ctx.channels,
                        workspace_id=workspace_id,
                        type=channel_type,
                        name=name,
                        values=values,
                        api_base_url=api_base,
                        rate_per_second=rate,
                    )
            except UnknownChannelType:
                known = ", ".join(ctx.channels.types())
                raise LookupError(f"unknown type {channel_type!r}; known: {known}") from None
            except IntegrityError:
                raise ValueError(f"a channel named {name!r} already exists") from None
            return channel_out(ctx, row).model_dump()

    typer.echo(json.dumps(_execute(database_url, config, job)))


@channels_app.command("list")
def channels_list(
    workspace: WorkspaceName, database_url: DatabaseUrl = None, config: ConfigFile = None
) -> None:
    """List a workspace's channel connections as JSON lines."""

    async def job(settings: Settings) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from toonbank.api.rest import channel_out
        from toonbank.models import ChannelConnection

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            async with ctx.db.session() as session:
                rows = await session.execute(
                    select(ChannelConnection)
                    .where(ChannelConnection.workspace_id == workspace_id)
                    .order_by(ChannelConnection.created_at)
                )
                return [channel_out(ctx, row).model_dump() for row in rows.scalars()]

    for row in _execute(database_url, config, job):
        typer.echo(json.dumps(row))


@agents_app.command("add")
def agents_add(
    workspace: WorkspaceName,
    email: Annotated[str, typer.Option("--email")],
    password: Annotated[str, typer.Option("--password", prompt=True, hide_input=True)],
    role: Annotated[
        str, typer.Option("--role", help="owner, admin, supervisor or agent")
    ] = "agent",
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
) -> None:
    """Create an agent account (password stored as an Argon2id hash)."""

    async def job(settings: Settings) -> dict[str, str]:
        from sqlalchemy.exc import IntegrityError

        from toonbank.auth.service import create_agent

        async with _context(settings) as ctx:
            workspace_id = await _workspace_id(ctx, workspace)
            try:
                async with ctx.db.uow() as uow:
                    agent = await create_agent(
                        uow.session,
                        workspace_id=workspace_id,
                        email=email,
                        password=password,
                        role=role,
                        display_name=name,
                    )
            except IntegrityError:
                raise ValueError(f"an agent with email {email!r} already exists") from None
        return {"id": agent.id, "email": agent.email, "role": agent.role}

    typer.echo(json.dumps(_execute(database_url, config, job)))


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8900,
    target: Annotated[
        str, typer.Option(help="Toonbank's public URL, where the providers' webhooks go.")
    ] = "http://127.0.0.1:8000",
    workspace: WorkspaceName = "demo",
) -> None:
    """Run the provider simulator: stand-ins for every messaging provider on loopback.

    Prints, per provider, the api_base URL and the `toonbank channels add` command for its demo
    account, then serves until Ctrl-C.
    """
    from toonbank.simulator.run import run

    run(host, port, target, workspace, typer.echo)


@app.command()
def chat(
    workspace: WorkspaceName = "demo",
    user: Annotated[
        str | None, typer.Option("--user", help="Continue as this customer (default: a new one).")
    ] = None,
    database_url: DatabaseUrl = None,
    config: ConfigFile = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each reply.")] = 30.0,
) -> None:
    """Talk to a workspace's assistant through the real pipeline (terminal channel).

    Reads one message per line on stdin, prints each reply as plain text, exits at end of input.
    """
    settings = _settings(database_url, config, log_level="WARNING")
    _migrate(settings)
    from toonbank.terminal import run_chat

    try:
        asyncio.run(run_chat(settings, workspace, user, sys.stdin, timeout))
    except LookupError as exc:
        raise _fail(str(exc)) from None
    except TimeoutError as exc:
        raise _fail(str(exc), 3) from None


if __name__ == "__main__":  # pragma: no cover
    app()
