"""Files Toonbank holds itself (``/media/<id>``) made sendable on each channel.

An agent's attachment or a customer's photo copied by the media stage lives at a relative
``/media/<id>`` URL. Before a send, such media are uploaded to providers that take uploads
(WhatsApp: the Graph media API, then sent by id), and become absolute links under
``public_url`` elsewhere (the provider fetches them; ``public_url`` must be reachable).

Before such media is queued at all, :func:`owned` checks that the file belongs to the sender's
workspace (an id from another workspace is refused even when known).
"""

from __future__ import annotations

from typing import Any

from toonbank.channels.base import MEDIA_SCHEME, SendError
from toonbank.channels.capabilities import Capabilities
from toonbank.channels.content import Content, Media
from toonbank.models import MediaObject
from toonbank.pipeline.media import LOCAL_PREFIX


async def sendable(ctx: Any, adapter: Any, connection: Any, content: Content) -> Content:
    if not isinstance(content, Media) or not content.url.startswith(LOCAL_PREFIX):
        return content
    media_id = content.url.removeprefix(LOCAL_PREFIX)[:32]
    upload = getattr(adapter, "upload_media", None)
    if upload is None:
        absolute = ctx.settings.public_url.rstrip("/") + content.url
        return content.model_copy(update={"url": absolute})
    async with ctx.db.session() as session:
        stored = await session.get(MediaObject, media_id)
    if stored is None or stored.workspace_id != connection.workspace_id:
        raise SendError("the attached file is gone", retryable=False, error_code="media_missing")
    provider_id = await upload(
        ctx.http,
        connection,
        stored.data,
        content.mime_type or stored.content_type,
        content.filename or stored.filename,
    )
    return content.model_copy(update={"url": MEDIA_SCHEME + provider_id})


class MediaRefused(Exception):
    """Media that may not be sent; ``status``/``code`` as an API error."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


async def owned(
    session: Any, workspace_id: str, content: Content, public_url: str, caps: Capabilities
) -> Content:
    """Media about to be queued: a ``/media/<id>`` must be a file of ``workspace_id`` (else
    404) and takes its kind and type from the stored file; any other link must be http(s)
    (else 422). A local link becomes absolute where the channel can not show this kind of
    media natively (it is degraded to text with the link)."""
    if not isinstance(content, Media):
        return content
    if not content.url.startswith(LOCAL_PREFIX):
        if not content.url.startswith(("https://", "http://")):
            raise MediaRefused(422, "invalid_content", "media must be uploaded or an http(s) link")
        return content
    stored = await session.get(MediaObject, content.url.removeprefix(LOCAL_PREFIX)[:32])
    if stored is None or stored.workspace_id != workspace_id:
        raise MediaRefused(404, "not_found", "no such file in this workspace")
    top = stored.content_type.split("/", 1)[0]
    kind = top if top in ("image", "audio", "video") else "file"
    update: dict[str, Any] = {"kind": kind, "mime_type": stored.content_type}
    if kind not in caps.media:
        update["url"] = public_url.rstrip("/") + content.url
    return content.model_copy(update=update)
