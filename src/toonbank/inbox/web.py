"""The agent web app at ``/inbox``: static files from the package, no build step, no CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter
from fastapi.responses import FileResponse

from toonbank.api.errors import ApiError

router = APIRouter(tags=["inbox"], include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static" / "inbox"
ASSETS: Final = {
    "inbox.js": "application/javascript",
    "inbox.css": "text/css",
    "suggestions.js": "application/javascript",
    "attachments.js": "application/javascript",
    "suggestions.css": "text/css",
}
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS: Final = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}


@router.get("/inbox")
async def app_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)


@router.get("/inbox/assets/{name}")
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise ApiError(404, "not_found", "no such file")
    return FileResponse(STATIC / name, media_type=media_type, headers=HEADERS)
