"""WeChat API plumbing: the cached access token and WeChat's ``errcode`` answers.

WeChat answers (almost) everything with HTTP 200 and ``{"errcode": N, "errmsg": "…"}``;
``errcode`` 0 or absent means success. :func:`wechat_error` maps the codes to SendErrors.

Access tokens (``GET /cgi-bin/token``, valid ``expires_in`` = 7200 s, 2000 fetches a day) are
cached in this process per (connection id, AppID) until five minutes before they expire. One
``asyncio.Lock`` per key and event loop makes concurrent sends share one fetch. Note that every
fetch invalidates the previous token after a five-minute grace period, so several Toonbank
processes sending for the same account refresh each other's tokens now and then; a rejected
token (40001/42001/40014) is refreshed and the send retried once.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass
from typing import Any

import httpx

from toonbank.channels.base import (
    Connection,
    SendError,
    classify_http_failure,
    retry_after_seconds,
)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
REFRESH_MARGIN = 300.0
"""Fetch a new token this many seconds before the old one expires."""

TOKEN_REJECTED = frozenset({40001, 40014, 42001})
"""Invalid / expired access token: refresh and retry once."""

AUTH_ERRORS = frozenset({40013, 40125, 40164, 41001, 41002, 41004, 48001, 89503})
"""Bad AppID/AppSecret, caller IP not whitelisted, API not authorised for this account."""

WINDOW_CLOSED = frozenset({45015, 45047})
"""45015: 48 h since the user's last interaction; 45047: too many messages outside it."""

RATE_LIMITS: dict[int, float] = {45009: 3600.0, 45011: 60.0}
"""API quota (45009: daily, 45011: per minute) → default seconds to wait."""

BUSY_RETRY_AFTER = 2.0
"""errcode -1 (system busy)."""

RECIPIENT_ERRORS: dict[int, str] = {
    40003: "invalid_recipient",  # invalid OpenID (e.g. of another official account)
    43004: "opted_out",  # the user does not follow the account (unsubscribed)
    43019: "opted_out",  # the user blocked the account
}


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: float


_TOKENS: dict[tuple[str, str], _Token] = {}
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]]
_LOCKS = weakref.WeakKeyDictionary()


def forget_access_tokens() -> None:
    """Drop every cached access token (after a secret rotation; in tests)."""
    _TOKENS.clear()


def api_base(connection: Connection) -> str:
    return (connection.api_base_url or DEFAULT_API_BASE).rstrip("/")


def _lock(key: tuple[str, str]) -> asyncio.Lock:
    """The lock for ``key`` on the running event loop (locks must not cross loops)."""
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(key, asyncio.Lock())


def _cached(key: tuple[str, str], stale: str | None) -> str | None:
    token = _TOKENS.get(key)
    if token is None or token.expires_at <= time.monotonic() or token.value == stale:
        return None
    return token.value


async def access_token(
    http: httpx.AsyncClient, connection: Connection, *, stale: str | None = None
) -> str:
    """A valid access token for the connection; ``stale`` is one WeChat just rejected."""
    app_id = str(connection.setting("app_id") or "")
    secret = str(connection.setting("app_secret") or "")
    if not app_id or not secret:
        raise SendError(
            "connection needs app_id and app_secret", retryable=False, error_code="config"
        )
    key = (connection.id, app_id)
    token = _cached(key, stale)
    if token:
        return token
    async with _lock(key):
        token = _cached(key, stale)
        if token:
            return token
        value, expires_in = await _fetch(http, api_base(connection), app_id, secret)
        lifetime = max(60.0, expires_in - REFRESH_MARGIN)
        _TOKENS[key] = _Token(value, time.monotonic() + lifetime)
        return value


async def _fetch(http: httpx.AsyncClient, base: str, app_id: str, secret: str) -> tuple[str, float]:
    """``GET /cgi-bin/token`` → (token, expires_in)."""
    params = {"grant_type": "client_credential", "appid": app_id, "secret": secret}
    response = await http.get(f"{base}/cgi-bin/token", params=params)
    data = result(response, "access token request")
    token, expires_in = data.get("access_token"), data.get("expires_in", 7200)
    if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
        raise SendError(
            "WeChat token answer without access_token",
            retryable=True,
            error_code="bad_response",
            http_status=response.status_code,
        )
    return token, float(expires_in)


def errcode(data: dict[str, Any]) -> int:
    """The answer's ``errcode`` (0 when absent)."""
    try:
        return int(data.get("errcode") or 0)
    except (TypeError, ValueError):
        return 0


def result(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of a successful answer; raises SendError for HTTP and errcode errors.

    Token rejections (40001/42001/40014) are *returned* so the caller can refresh and retry.
    """
    if response.status_code >= 300:
        raise classify_http_failure(response, f"WeChat {what}: HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SendError(
            f"WeChat {what}: answer is not a JSON object",
            retryable=False,
            error_code="bad_response",
            http_status=response.status_code,
        )
    code = errcode(data)
    if code and code not in TOKEN_REJECTED:
        raise wechat_error(code, str(data.get("errmsg", "")), response, what)
    return data


def wechat_error(code: int, message: str, response: httpx.Response, what: str) -> SendError:
    """Map a WeChat ``errcode`` to a retryable or permanent SendError with a stable code."""
    detail = f"WeChat {what}: errcode {code}: {message}".rstrip(": ")
    status = response.status_code
    hint = retry_after_seconds(response)
    if code in RATE_LIMITS:
        return SendError(
            detail,
            retryable=True,
            error_code="rate_limited",
            http_status=status,
            retry_after=hint if hint is not None else RATE_LIMITS[code],
        )
    if code == -1:
        return SendError(
            detail,
            retryable=True,
            error_code="provider_busy",
            http_status=status,
            retry_after=hint if hint is not None else BUSY_RETRY_AFTER,
        )
    if code in WINDOW_CLOSED:
        name = "window_closed"
    elif code in AUTH_ERRORS or code in TOKEN_REJECTED:
        name = "auth"
    else:
        name = RECIPIENT_ERRORS.get(code, f"wechat_{code}")
    return SendError(detail, retryable=False, error_code=name, http_status=status)
