"""Talking to Meta's Graph API: URLs, auth, error mapping and media lookup.

Graph errors look like ``{"error": {"message", "type", "code", "error_subcode",
"error_data": {"details"}, "fbtrace_id"}}``. The ``code`` decides what we do, not the HTTP status
(Meta answers throughput errors with 400, 403 or 429 depending on the path through its stack).
WhatsApp sends no ``Retry-After`` for its rate limits, so each throttling code has a default wait;
a ``Retry-After`` header, when present, always wins.
"""

from __future__ import annotations

from typing import Any

import httpx

from toonbank.channels.base import (
    Connection,
    SendError,
    classify_http_failure,
    retry_after_seconds,
)

DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
MEDIA_SCHEME = "provider-media://"
"""Inbound media arrive as ids; ``Media.url`` then holds ``provider-media://<media id>``."""

RATE_LIMIT_WAIT: dict[int, float] = {
    130429: 1.0,  # Cloud API throughput (80 mps per number by default) reached
    131056: 6.0,  # pair rate limit: too many messages to the same user (~1 per 6 s)
    80007: 60.0,  # WhatsApp Business Account rate limit
    4: 60.0,  # application request limit
    613: 60.0,  # calls to this API exceeded the rate limit
}
"""Throttling codes → seconds to wait when Meta gives no ``Retry-After``."""

PERMANENT_CODES: dict[int, str] = {
    131047: "window_closed",  # > 24 h since the customer last wrote: only a template may go out
    131026: "invalid_recipient",  # message undeliverable (not on WhatsApp, old app, ...)
    190: "auth",  # access token expired or invalid
}
"""Graph codes with a stable Toonbank error code; never retried."""

TRANSIENT_CODES = frozenset({1, 2, 131000, 131016})
"""Unknown error, service temporarily unavailable, something went wrong, service unavailable."""


def graph_url(connection: Connection, *path: str) -> str:
    """``{api_base_url}/{api_version}/{path...}`` (Graph at graph.facebook.com by default)."""
    base = str(connection.api_base_url or DEFAULT_API_BASE).rstrip("/")
    version = str(connection.setting("api_version") or DEFAULT_API_VERSION).strip("/")
    return "/".join([base, version, *path])


def auth_headers(connection: Connection) -> dict[str, str]:
    """The Bearer header for the connection's access token (permanent error when missing)."""
    token = connection.setting("access_token")
    if not token:
        raise SendError("connection has no access_token", retryable=False, error_code="config")
    return {"authorization": f"Bearer {token}"}


def _error_body(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a Graph answer ({} when the body is not Graph JSON)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _code(error: dict[str, Any]) -> int | None:
    """The numeric Graph error code, if any."""
    code = error.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return None


def _detail(error: dict[str, Any], status: int) -> str:
    """``message: details`` of a Graph error, or a generic line."""
    message = error.get("message") if isinstance(error.get("message"), str) else None
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    parts = [part for part in (message, details) if isinstance(part, str) and part]
    return ": ".join(parts) if parts else f"WhatsApp answered HTTP {status}"


def graph_error(response: httpx.Response) -> SendError:
    """Map a failed Graph answer to a retryable or permanent :class:`SendError`."""
    error = _error_body(response)
    code = _code(error)
    status = response.status_code
    detail = _detail(error, status)
    if code in RATE_LIMIT_WAIT or (code is None and status == 429):
        header = retry_after_seconds(response)
        wait = header if header is not None else RATE_LIMIT_WAIT.get(code or 130429, 1.0)
        return SendError(
            detail, retryable=True, error_code="rate_limited", http_status=status, retry_after=wait
        )
    if code in PERMANENT_CODES:
        return SendError(
            detail, retryable=False, error_code=PERMANENT_CODES[code], http_status=status
        )
    failure = classify_http_failure(response, detail)
    if code is not None:
        failure.error_code = str(code)
        failure.retryable = failure.retryable or code in TRANSIENT_CODES
    return failure


def media_id_of(url: str) -> str | None:
    """The media id of a ``provider-media://<id>`` reference (None for ordinary URLs)."""
    if url.startswith(MEDIA_SCHEME) and len(url) > len(MEDIA_SCHEME):
        return url[len(MEDIA_SCHEME) :]
    return None


async def media_url(http: httpx.AsyncClient, connection: Connection, media_id: str) -> str:
    """Resolve an inbound media id to its (short-lived) download URL.

    ``GET {base}/{version}/{media_id}`` answers ``{"url", "mime_type", "sha256", "file_size",
    "id"}``. The URL must be downloaded with the same Bearer token (see :func:`auth_headers`)
    within a few minutes. Accepts a bare id or a ``provider-media://<id>`` reference.
    """
    media_id = media_id_of(media_id) or media_id
    response = await http.get(graph_url(connection, media_id), headers=auth_headers(connection))
    if response.status_code >= 300:
        raise graph_error(response)
    try:
        data = response.json()
    except ValueError:
        data = None
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        raise SendError(
            "WhatsApp media lookup returned no url", retryable=False, error_code="invalid_response"
        )
    return url
