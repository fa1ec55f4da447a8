"""The HTTP client provider calls go through: httpx's API on aiohttp's connection pool.

``ProviderClient`` is a normal ``httpx.AsyncClient`` (every adapter can use all of httpx) with
one shortcut for the call made once per outbound message, a POST of a ready body:
:meth:`ProviderClient.post_bytes` hands it straight to the aiohttp session underneath. httpx's
own request path (URL merging, auth and redirect flows, cookie extraction, event hooks) cost
about as much CPU again as the HTTP exchange itself in the turn benchmark, and a provider API
needs none of it. Errors are mapped to httpx's exceptions exactly as the transport maps them,
and the answer is an ``httpx.Response``, so callers cannot tell the difference.

Cookies are never kept: a provider API does not use them, and one client serves every
workspace's connections.
"""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy
from typing import Any

import httpx
from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, TCPConnector
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions


class ProviderClient(httpx.AsyncClient):
    def __init__(self, *, timeout: float, connections: int, user_agent: str) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

        def session() -> ClientSession:  # as the transport builds it, minus the cookie jar
            connector = TCPConnector(
                limit=connections,
                keepalive_timeout=limits.keepalive_expiry,
                ssl=httpx.create_ssl_context(),
            )
            return ClientSession(connector=connector, cookie_jar=DummyCookieJar())

        self._aiohttp = AiohttpTransport(limits=limits, client=session)
        super().__init__(
            timeout=httpx.Timeout(timeout),
            limits=limits,
            headers={"user-agent": user_agent},
            transport=self._aiohttp,
        )
        self.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # keeps none
        self._user_agent = user_agent
        self._client_timeout = ClientTimeout(
            sock_connect=self.timeout.connect,
            sock_read=self.timeout.read,
            connect=self.timeout.pool,
        )

    def _session(self) -> ClientSession:
        transport: Any = self._aiohttp
        if not isinstance(transport.client, ClientSession):
            transport.client = transport.get_client()
        session: ClientSession = transport.client
        return session

    async def post_bytes(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """``POST url`` with ``body``; the whole answer read. Same result and exceptions as
        ``await client.post(url, content=body, headers=headers)``."""
        request = httpx.Request("POST", url)  # for the response (and error messages)
        with map_aiohttp_exceptions():
            async with self._session().post(
                url,
                data=body,
                headers={"user-agent": self._user_agent, **headers},
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes per Content-Encoding, as usual
                timeout=self._client_timeout,
            ) as answer:
                content = await answer.read()
                return httpx.Response(
                    answer.status,
                    headers=[
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.raw_headers
                    ],
                    content=content,
                    request=request,
                )


async def post_bytes(
    http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST a ready body: the fast path on a :class:`ProviderClient`, plain httpx otherwise
    (tests may pass any client)."""
    if isinstance(http, ProviderClient):
        return await http.post_bytes(url, body, headers)
    return await http.post(url, content=body, headers=headers)
