"""A minimal keep-alive HTTP/1.1 client over asyncio streams (the load generator's engine).

It is far cheaper per request than a general-purpose client, so on a 2-core machine the
client steals as little CPU from the server under test as possible. It only does what the
benchmark needs: send a prebuilt request, read the status line, headers and body
(``Content-Length`` or chunked), and reconnect after a failure.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Mapping

ERROR = 0
"""Status recorded for a request that got no HTTP answer (connection error or timeout)."""


def build_request(
    host: str, port: int, path: str, body: bytes, headers: Mapping[str, str]
) -> bytes:
    """The raw bytes of one ``POST`` request, ready to be written to a socket."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"host: {host}:{port}",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpConnection:
    """One persistent HTTP/1.1 connection; requests on it run one after another.

    Like production clients, it does not reuse a connection that sat idle longer than
    ``keepalive`` (uvicorn closes idle keep-alive connections after 5 s), and when a reused
    connection turns out to be closed before any byte of the answer arrived, it reconnects
    and sends once more (the server never saw the request).
    """

    def __init__(self, host: str, port: int, timeout: float = 30.0, keepalive: float = 2.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.keepalive = keepalive
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._idle_since = 0.0

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader, self._writer = reader, writer
        return reader, writer

    async def request(self, raw: bytes) -> int:
        """Send ``raw`` and read the whole answer; the HTTP status, or :data:`ERROR`."""
        if self._writer is not None and time.monotonic() - self._idle_since > self.keepalive:
            self.close()
        for attempt in range(2):
            reused = self._writer is not None
            try:
                async with asyncio.timeout(self.timeout):
                    if self._reader is None or self._writer is None:
                        reader, writer = await self._connect()
                    else:
                        reader, writer = self._reader, self._writer
                    writer.write(raw)
                    status = await self._response(reader)
                self._idle_since = time.monotonic()
                return status
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.close()
                closed_early = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
                if reused and closed_early and attempt == 0:
                    continue  # a stale keep-alive connection: the request never arrived
                return ERROR
            except (OSError, EOFError, TimeoutError, ValueError):
                self.close()
                return ERROR
        return ERROR

    async def _response(self, reader: asyncio.StreamReader) -> int:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        """Drop the socket; the next request reconnects."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
