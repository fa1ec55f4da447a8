"""Files Toonbank holds itself (``/media/<id>``) made sendable on each channel.

An agent's attachment or a customer's photo copied by the media stage lives at a relative
``/media/<id>`` URL. Before a send, such media are uploaded to providers that take uploads
(WhatsApp: the Graph media API, then sent by id), and become absolute links under
``public_url`` elsewhere (the provider fetches them; ``public_url`` must be reachable).
"""

from __future__ import annotations

from typing import Any

from toonbank.channels.base import MEDIA_SCHEME, SendError
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
