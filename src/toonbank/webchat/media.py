"""Stored files: recognising image types by their first bytes (never trust the declared type)
and the headers every ``/media`` response carries."""

from __future__ import annotations

from urllib.parse import quote

from toonbank.models import MediaObject

SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image(data: bytes) -> str | None:
    for magic, mime in SIGNATURES:
        if data.startswith(magic):
            return mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def media_headers(row: MediaObject) -> dict[str, str]:
    """Served bytes are never interpreted: no sniffing, no scripts; documents download."""
    headers = {
        "x-content-type-options": "nosniff",
        "cache-control": "private, max-age=86400",
        "content-security-policy": "default-src 'none'",
    }
    if not row.content_type.startswith(("image/", "audio/", "video/")):
        name = quote(row.filename or "download", safe="")
        headers["content-disposition"] = f"attachment; filename*=utf-8''{name}"
    return headers
