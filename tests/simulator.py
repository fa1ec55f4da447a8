"""Pytest fixtures for end-to-end tests against the provider simulator.

Import the fixtures into a ``conftest.py`` (``from tests.simulator import provider_sim, …``):

- ``provider_sim``: a :class:`~toonbank.simulator.core.ProviderSimulator` serving every provider
  on a free loopback port, in a background thread (its own event loop).
- ``toonbank_socket``: a bound loopback socket; :func:`served_settings` makes settings whose
  ``public_url`` is that port, with the embedded worker on (override the ``settings`` fixture
  with them, as ``tests/e2e/conftest.py`` does).
- ``toonbank_url``: the app under test served by uvicorn on that port, in the test's event loop
  (sharing ``ctx``), with its pipeline worker running; the simulator's webhooks reach it there.

:func:`connect` creates a channel connection pointed at a fresh simulator account and registers
its webhook URL with the provider (running the provider's verification handshake).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn

from toonbank.app import create_app
from toonbank.channels.base import Connection
from toonbank.channels.connections import create_connection
from toonbank.channels.registry import default_registry
from toonbank.config import Settings
from toonbank.context import Context
from toonbank.simulator.api_channel import BackgroundServer
from toonbank.simulator.base import Account
from toonbank.simulator.core import ProviderSimulator


@pytest.fixture
def provider_sim() -> Iterator[ProviderSimulator]:
    sim = ProviderSimulator(receipt_delay=0.01)
    with BackgroundServer(sim.app()) as server:
        sim.base_url = server.url
        yield sim


@pytest.fixture
def toonbank_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def served_settings(database_url: str, data_dir: Path, sock: socket.socket) -> Settings:
    """Test settings for an app served on ``sock``, with its pipeline worker in-process."""
    port = sock.getsockname()[1]
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="test-secret-key-0123456789",
        public_url=f"http://127.0.0.1:{port}",
        embedded_worker=True,
        retry_base_seconds=0.05,
        retry_max_seconds=0.5,
        lease_seconds=5,
        dispatch_timeout=1.0,
        worker_poll_interval=0.05,
        widget_rate_limit="1000/minute",
    )


@pytest.fixture
async def toonbank_url(
    ctx: Context, settings: Settings, toonbank_socket: socket.socket
) -> AsyncIterator[str]:
    app = create_app(settings, ctx=ctx)
    config = uvicorn.Config(app, log_level="warning", log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[toonbank_socket]))
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done():
            task.result()
        assert time.monotonic() < deadline, "the app did not start"
        await asyncio.sleep(0.01)
    yield settings.public_url
    server.should_exit = True
    await asyncio.wait_for(task, 20)


async def connect(
    ctx: Context,
    workspace_id: str,
    sim: ProviderSimulator,
    provider: str,
    public_url: str,
    name: str | None = None,
    rate: int | None = None,
) -> tuple[Account, str]:
    """A simulator account and a connection using it; returns (account, connection id)."""
    account = sim.add_account(provider)
    async with ctx.db.uow() as uow:
        row = await create_connection(
            uow.session,
            ctx.secret_box,
            ctx.channels,
            workspace_id=workspace_id,
            type=provider,
            name=name or f"sim-{provider}-{account.key[-6:]}",
            values=dict(account.settings),
            api_base_url=account.api_base,
            rate_per_second=rate,
        )
        webhook_url = f"{public_url}/webhooks/{row.id}"
        if provider == "twilio":  # delivery receipts: Twilio's StatusCallback on every send
            row.settings = {**row.settings, "status_callback_url": webhook_url}
        connection_id = row.id
    await sim.set_webhook(account, webhook_url)
    return account, connection_id


# --------------------------------------------------------------------------------------------
# Without a server: accounts with a fixed webhook URL and the connections that use them
# --------------------------------------------------------------------------------------------

WEBHOOK_URL = "http://127.0.0.1:9/webhooks/conn-test"
"""Nothing listens there (the discard port): receipts posted to it fail at once."""


def account(sim: ProviderSimulator, provider: str, **settings: str | None) -> Account:
    """A new account whose webhook URL is set (``None`` drops a setting)."""
    created = sim.add_account(provider)
    for key, value in settings.items():
        if value is None:
            created.settings.pop(key, None)
        else:
            created.settings[key] = value
    created.webhook_url = WEBHOOK_URL
    return created


def connection(acc: Account) -> Connection:
    """The decrypted connection Toonbank would build for ``acc``."""
    secrets = default_registry().get(acc.provider).manifest.secret_settings
    return Connection(
        id="conn-test",
        workspace_id="ws-test",
        type=acc.provider,
        name="sim",
        api_base_url=acc.api_base,
        settings={k: v for k, v in acc.settings.items() if k not in secrets},
        secrets={k: v for k, v in acc.settings.items() if k in secrets},
    )
