"""Real-Chromium fixtures: a live Toonbank server with the demo shop, one browser per module.

The browser tests exercise the widget UI, so they run on SQLite only (the pipeline itself is
tested on both backends elsewhere). Each test gets its own freshly migrated database (a copy
of one migrated template), its own server with the embedded worker, and a new browser context
(so a fresh ``localStorage``: a new visitor).

Chromium: Playwright's browser downloads are not used; the system Chromium is launched
(``TOONBANK_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on ``PATH``). The tests are
skipped when none is installed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, sync_playwright
from tests.browser.support import PageErrors, Shop

from toonbank.app import create_app
from toonbank.config import Settings
from toonbank.context import create_context
from toonbank.db.migrate import upgrade
from toonbank.demo import ensure_demo
from toonbank.models import Workspace
from toonbank.simulator.api_channel import BackgroundServer

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _chromium() -> str | None:
    explicit = os.environ.get("TOONBANK_CHROMIUM")
    if explicit:
        return explicit
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(coro_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine on a private loop in a worker thread (the tests themselves are sync)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn())).result(timeout=60)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser-db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def database_url(migrated_sqlite: Path, tmp_path: Path) -> str:
    """Overrides the root fixture: SQLite only, a fresh copy of the migrated template."""
    path = tmp_path / "toonbank.db"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def shop(settings: Settings) -> Iterator[Shop]:
    served = settings.model_copy(update={"embedded_worker": True})

    async def setup() -> str:
        ctx = create_context(served)
        await ctx.start()
        try:
            info = await ensure_demo(ctx)
            # The demo shop answers with the assistant; these tests are about the widget's
            # transport (history, exactly-once, escaping), so they drive the deterministic
            # placeholder responder (an echo). The assistant has its own conversation tests.
            async with ctx.db.uow() as uow:
                workspace = await uow.session.get(Workspace, info.workspace_id)
                assert workspace is not None
                workspace.settings = {**(workspace.settings or {}), "responder": "placeholder"}
        finally:
            await ctx.close()
        assert info.api_key is not None
        return info.api_key

    api_key = _run(setup)
    with BackgroundServer(create_app(served)) as server:
        yield Shop(server.url, api_key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium installed (apt-get install chromium, or set TOONBANK_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, page_errors: PageErrors) -> Iterator[Page]:
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.errors.append(str(exc)))

    def on_dialog(dialog: Dialog) -> None:
        page_errors.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield page
    assert page_errors.errors == [], f"uncaught errors in the page: {page_errors.errors}"
    assert page_errors.dialogs == [], f"unexpected dialogs: {page_errors.dialogs}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
