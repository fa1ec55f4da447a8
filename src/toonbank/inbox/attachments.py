"""Attachments from the inbox composer: an agent uploads an image or a PDF, then sends it as a
:class:`~toonbank.channels.content.Media` message through the usual reply path.

Uploads are stored like the web chat's (:class:`~toonbank.models.MediaObject`, served at
``/media/<id>``), typed by their first bytes (the declared type and the file name are never
trusted) and limited to ``max_upload_bytes``. Only an agent who may reply in the conversation
may upload for it. Every send of agent media checks that a ``/media/<id>`` link belongs to the
agent's workspace (:func:`toonbank.pipeline.outbound_media.owned`), so a file of another
workspace can not be sent even when its id is known. Agents read files through
``GET /api/v1/inbox/media/<id>``, which is scoped to their workspace.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final

from fastapi import APIRouter, Depends, UploadFile
from fastapi.responses import Response

from toonbank.api.deps import current_agent, get_ctx
from toonbank.api.errors import ApiError
from toonbank.context import Context
from toonbank.inbox.api import _allowed, _visible, acting_agent
from toonbank.models import Agent, MediaObject
from toonbank.pipeline.media import LOCAL_PREFIX
from toonbank.webchat.media import media_headers, sniff_image

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])
PDF: Final = "application/pdf"
ALLOWED: Final = "JPEG, PNG, GIF and WebP images and PDF documents"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]+")


def sniff_attachment(data: bytes) -> str | None:
    """The file's real type from its first bytes: an image type, ``application/pdf`` or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    return sniff_image(data)


EXTENSIONS: Final = {
    PDF: (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
}


def clean_filename(name: str | None, mime: str) -> str:
    """A display name without paths or control characters, ending in the extension of its
    real type (a PDF named ``x.html`` is saved as ``x.html.pdf``)."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = _UNSAFE.sub("", base).strip().lstrip(".")[:240] or (
        "document" if mime == PDF else "image"
    )
    extensions = EXTENSIONS[mime]
    return base if base.lower().endswith(extensions) else base + extensions[0]


@router.post("/conversations/{conversation_id}/upload", status_code=201)
async def upload(
    conversation_id: str,
    file: UploadFile,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> dict[str, Any]:
    """Store an image or a PDF the agent is about to send in this conversation."""
    async with ctx.db.session() as session:
        conversation = await _visible(session, agent, conversation_id)
        _allowed(agent, conversation)
    limit = ctx.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "too_large", f"attachments may be at most {limit} bytes")
    mime = sniff_attachment(data)
    if mime is None:
        raise ApiError(415, "unsupported_media", f"only {ALLOWED}")
    media = MediaObject(
        workspace_id=agent.workspace_id,
        content_type=mime,
        size=len(data),
        data=data,
        filename=clean_filename(file.filename, mime),
    )
    async with ctx.db.uow() as uow:
        uow.session.add(media)
    return {
        "id": media.id,
        "url": f"{LOCAL_PREFIX}{media.id}",
        "kind": "file" if mime == PDF else "image",
        "mime_type": mime,
        "filename": media.filename,
        "size": media.size,
    }


@router.get("/media/{media_id}")
async def read(
    media_id: str, agent: Agent = Depends(current_agent), ctx: Context = Depends(get_ctx)
) -> Response:
    """A file of the agent's workspace (an attachment or a customer's photo); 404 otherwise."""
    async with ctx.db.session() as session:
        row = await session.get(MediaObject, media_id[:32])
    if row is None or row.workspace_id != agent.workspace_id:
        raise ApiError(404, "not_found", "no such file in this workspace")
    return Response(row.data, media_type=row.content_type, headers=media_headers(row))
