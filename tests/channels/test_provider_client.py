"""The provider HTTP client's fast POST behaves like httpx's own: same answer, same errors,
Content-Encoding decoded, redirects not followed, and no cookies kept between calls."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from toonbank.channels.http import ProviderClient

seen_cookies: list[str | None] = []


async def _echo(request: web.Request) -> web.Response:
    seen_cookies.append(request.headers.get("cookie"))
    body = await request.read()
    return web.json_response(
        {"got": body.decode(), "agent": request.headers["user-agent"], "x": request.headers["x"]},
        headers={"set-cookie": "session=abc; Path=/"},
    )


async def _gzip(_request: web.Request) -> web.Response:
    return web.Response(body=gzip.compress(b'{"ok": true}'), headers={"content-encoding": "gzip"})


async def _slow(_request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="late")


async def _moved(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/echo")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/echo", _echo)
    app.router.add_post("/gzip", _gzip)
    app.router.add_post("/slow", _slow)
    app.router.add_post("/moved", _moved)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_fast_post_answers_like_httpx(server: str) -> None:
    client = ProviderClient(timeout=0.5, connections=4, user_agent="Toonbank/test")
    try:
        fast = await client.post_bytes(server + "/echo", b"hello", {"x": "1"})
        slow = await client.post(server + "/echo", content=b"hello", headers={"x": "1"})
        assert fast.status_code == slow.status_code == 200
        assert fast.json() == slow.json() == {"got": "hello", "agent": "Toonbank/test", "x": "1"}
        assert seen_cookies[-2:] == [None, None]  # the Set-Cookie of the first was not kept
        assert not client.cookies
        assert (await client.post_bytes(server + "/gzip", b"", {})).json() == {"ok": True}
        moved = await client.post_bytes(server + "/moved", b"", {})
        assert moved.status_code == 302  # not followed
        with pytest.raises(httpx.TimeoutException):
            await client.post_bytes(server + "/slow", b"", {})
        refused = "http://127.0.0.1:9/echo"  # nothing listens: same exception as httpx's path
        with pytest.raises(httpx.TransportError) as fast_error:
            await client.post_bytes(refused, b"", {})
        with pytest.raises(httpx.TransportError) as slow_error:
            await client.post(refused, content=b"")
        assert type(fast_error.value) is type(slow_error.value)
    finally:
        await client.aclose()
