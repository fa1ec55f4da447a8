"""Reading client frames on our WebSockets (web chat, inbox): bounded JSON objects only."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket

ErrorSender = Callable[[str, str], Awaitable[None]]


async def receive_frame(ws: WebSocket, max_bytes: int, error: ErrorSender) -> dict[str, Any]:
    """The next frame that is a JSON object of at most ``max_bytes``.

    Anything else is answered with an error frame (``too_large``, ``invalid_json``,
    ``invalid_frame``) and skipped.
    """
    while True:
        raw = await ws.receive_text()
        if len(raw) > max_bytes:
            await error("too_large", f"frames are limited to {max_bytes} bytes")
            continue
        try:
            frame = json.loads(raw)
        except ValueError:
            await error("invalid_json", "frame is not JSON")
            continue
        if not isinstance(frame, dict):
            await error("invalid_frame", "frame must be an object")
            continue
        return frame
