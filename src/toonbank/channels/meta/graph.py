"""Calling the Graph Send API and mapping its errors.

``POST {api_base_url}/{api_version}/me/messages?access_token=<page access token>`` with a JSON
body answers ``{"recipient_id", "message_id"}``; the ``message_id`` (mid) is what delivery and
read receipts name later. Errors come as ``{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}`` (Meta's Messenger "Common Error Codes"):

=====================================  ==========================  =========
Graph error                            ``error_code``              retried
=====================================  ==========================  =========
4, 32, 613, 80006 (rate limits)        ``rate_limited``            yes
10 / 2018278 (outside the window)      ``window_closed``           no
551 (person not available),            ``invalid_recipient``       no
100 / 2018001 (no matching user)
190 (invalid / expired token)          ``auth``                    no
2, 1200 (temporary failure)            ``graph_<code>``            yes
HTTP 5xx / 408 / 429                   ``graph_<code>``/``http_*``  yes
anything else                          ``graph_<code>``/``http_*``  no
=====================================  ==========================  =========

A rate-limited send waits for ``Retry-After`` when present, else for the Business Use Case
header's ``estimated_time_to_regain_access`` (minutes), else 60 seconds.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from toonbank.channels.base import Connection, SendError, classify_http_failure, retry_after_seconds

DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
RATE_LIMIT_CODES = frozenset({4, 32, 613, 80006})
TEMPORARY_CODES = frozenset({2, 1200})
WINDOW_CLOSED = (10, 2018278)
NO_MATCHING_USER = (100, 2018001)
USER_UNAVAILABLE = 551
INVALID_TOKEN = 190
DEFAULT_RATE_LIMIT_WAIT = 60.0
_VERSION = re.compile(r"v\d{1,3}\.\d{1,3}")


def messages_url(connection: Connection) -> str:
    """``{api_base_url}/{api_version}/me/messages`` (Graph API defaults)."""
    version = connection.setting("api_version") or DEFAULT_API_VERSION
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise SendError("api_version must look like 'v21.0'", retryable=False, error_code="config")
    base = (connection.api_base_url or DEFAULT_API_BASE).rstrip("/")
    return f"{base}/{version}/me/messages"


async def post_message(http: httpx.AsyncClient, url: str, token: str, body: dict[str, Any]) -> str:
    """Send one message; returns its mid (raises :class:`SendError`)."""
    response = await http.post(url, params={"access_token": token}, json=body)
    if response.status_code >= 300:
        raise graph_error(response)
    try:
        data = response.json()
    except ValueError:
        data = None
    message_id = data.get("message_id") if isinstance(data, dict) else None
    return str(message_id) if message_id else ""


def graph_error(response: httpx.Response) -> SendError:
    """Map a failed Graph API answer to a retryable or permanent :class:`SendError`."""
    error = _error_object(response)
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    status = response.status_code
    message = str(error.get("message") or f"HTTP {status}")[:300]
    detail = f"Graph API error {code}{f'/{subcode}' if subcode else ''}: {message}"

    def failure(error_code: str, retryable: bool, retry_after: float | None = None) -> SendError:
        return SendError(
            detail,
            retryable=retryable,
            error_code=error_code,
            http_status=status,
            retry_after=retry_after,
        )

    if code in RATE_LIMIT_CODES or (code is None and status == 429):
        return failure("rate_limited", True, rate_limit_wait(response))
    if (code, subcode) == WINDOW_CLOSED:
        return failure("window_closed", False)
    if code == USER_UNAVAILABLE or (code, subcode) == NO_MATCHING_USER:
        return failure("invalid_recipient", False)
    if code == INVALID_TOKEN:
        return failure("auth", False)
    if code is None:
        return classify_http_failure(response, detail)
    retryable = code in TEMPORARY_CODES or status >= 500 or status in (408, 429)
    return failure(f"graph_{code}", retryable, retry_after_seconds(response))


def rate_limit_wait(response: httpx.Response) -> float:
    """Seconds to wait: ``Retry-After``, else Meta's usage header estimate, else 60."""
    hinted = retry_after_seconds(response)
    if hinted is not None:
        return hinted
    minutes = _regain_access_minutes(response.headers.get("x-business-use-case-usage"))
    return minutes * 60.0 if minutes else DEFAULT_RATE_LIMIT_WAIT


def _regain_access_minutes(header: str | None) -> float | None:
    """The largest ``estimated_time_to_regain_access`` (minutes) in the BUC usage header."""
    if not header:
        return None
    try:
        usage = json.loads(header)
    except ValueError:
        return None
    if not isinstance(usage, dict):
        return None
    estimates = [
        item.get("estimated_time_to_regain_access")
        for items in usage.values()
        if isinstance(items, list)
        for item in items
        if isinstance(item, dict)
    ]
    numbers = [float(e) for e in estimates if isinstance(e, int | float) and e > 0]
    return max(numbers) if numbers else None


def _error_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
