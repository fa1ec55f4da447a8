"""Media stage: copy inbound media from the provider into Toonbank's own storage.

Customers' photos, voice notes and documents arrive as references: an id behind the
provider's API (WhatsApp, Telegram, LINE, WeChat: ``provider-media://<id>``), a link that needs
the account's credentials (Twilio MMS) or a CDN link that expires (Messenger, Instagram,
Viber). Normalize queues a :class:`~toonbank.models.MediaFetch` row for each in the same
transaction as the message; this stage downloads it through the channel adapter
(:meth:`~toonbank.channels.base.ChannelAdapter.fetch_media`), stores a
:class:`~toonbank.models.MediaObject` and points the message at ``/media/<id>``, so agents,
the web chat and the assistant see the file long after the provider's link has expired.

Claims are leased (several workers, crashes); failures are retried with backoff, and after
:data:`MAX_ATTEMPTS` the message keeps the provider's reference and gets
``error_code = "media_unavailable"``. Downloads run outside transactions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import delete, or_, select, update

from toonbank.channels.base import FetchedMedia, SendError
from toonbank.conversations.events import EventSpec, lock_contacts, message_view, record_events
from toonbank.db.portable import insert_ignore
from toonbank.kit.clock import now
from toonbank.models import MediaFetch, MediaObject, Message
from toonbank.models.base import new_id, table_of

log = structlog.get_logger(__name__)
MAX_ATTEMPTS = 4
BATCH = 8
LEASE = timedelta(minutes=2)
LOCAL_PREFIX = "/media/"


def needs_fetch(content: dict[str, Any]) -> bool:
    """Inbound media that is not yet in Toonbank's storage."""
    url = content.get("url")
    return (
        content.get("type") == "media" and isinstance(url, str) and not url.startswith(LOCAL_PREFIX)
    )


async def enqueue(session: Any, rows: list[dict[str, Any]]) -> None:
    """Queue fetches (``message_id``, ``workspace_id``, ``connection_id``, ``url``) in the
    caller's transaction."""
    if not rows:
        return
    moment = now()
    table = table_of(MediaFetch)
    await session.execute(
        insert_ignore(session, table, ("message_id",)),
        [{**row, "attempts": 0, "next_attempt_at": moment} for row in rows],
    )


@dataclass(slots=True)
class _Job:
    message_id: int
    connection_id: str | None
    url: str
    attempts: int
    media: FetchedMedia | None = None
    error: SendError | None = None


async def fetch_media_batch(ctx: Any, limit: int = BATCH) -> int:
    """Download one batch of queued media; returns how many were attempted."""
    jobs = await _claim(ctx, limit)
    if not jobs:
        return 0
    await asyncio.gather(*(_fetch(ctx, job) for job in jobs))
    try:
        await _finish(ctx, jobs)
    except Exception:
        # Do not leave the claims leased for minutes: let the next pass retry them now.
        async with ctx.db.uow() as uow:
            await uow.session.execute(
                update(MediaFetch)
                .where(MediaFetch.message_id.in_([j.message_id for j in jobs]))
                .values(lease_until=None)
                .execution_options(synchronize_session=False)
            )
        raise
    return len(jobs)


async def _claim(ctx: Any, limit: int) -> list[_Job]:
    moment = now()
    due = (
        MediaFetch.next_attempt_at <= moment,
        or_(MediaFetch.lease_until.is_(None), MediaFetch.lease_until < moment),
    )
    async with ctx.db.uow() as uow:
        ids = list(
            (
                await uow.session.execute(
                    select(MediaFetch.message_id)
                    .where(*due)
                    .order_by(MediaFetch.next_attempt_at)
                    .limit(limit)
                )
            ).scalars()
        )
        if not ids:
            return []
        rows = await uow.session.execute(
            update(MediaFetch)
            .where(MediaFetch.message_id.in_(ids), *due)
            .values(lease_until=moment + LEASE)
            .returning(
                MediaFetch.message_id,
                MediaFetch.connection_id,
                MediaFetch.url,
                MediaFetch.attempts,
            )
            .execution_options(synchronize_session=False)
        )
        return [_Job(mid, cid, url, attempts) for mid, cid, url, attempts in rows]


async def _fetch(ctx: Any, job: _Job) -> None:
    connection = await ctx.connections.get(job.connection_id) if job.connection_id else None
    if connection is None:
        job.error = SendError("connection is gone", retryable=False, error_code="no_connection")
        return
    adapter = ctx.channels.get(connection.type)
    try:
        job.media = await adapter.fetch_media(
            ctx.http, connection, job.url, max_bytes=ctx.settings.max_media_bytes
        )
    except SendError as exc:
        job.error = exc
    except Exception as exc:  # an adapter bug must not stop the stage
        log.exception("media_fetch_crashed", message_id=job.message_id)
        job.error = SendError(f"internal error: {type(exc).__name__}", retryable=True)


async def _finish(ctx: Any, jobs: list[_Job]) -> None:
    moment = now()
    async with ctx.db.uow() as uow:
        session = uow.session
        messages = {
            m.id: m
            for m in (
                await session.execute(
                    select(Message).where(Message.id.in_([j.message_id for j in jobs]))
                )
            ).scalars()
        }
        # Lock order everywhere: contacts, then conversations, then messages (see lock_contacts).
        await lock_contacts(uow, {m.contact_id for m in messages.values()})
        events: list[EventSpec] = []
        for job in jobs:
            message = messages.get(job.message_id)
            if message is None:
                continue  # deleted meanwhile (erasure); the queue row went with it
            if job.media is not None:
                events.append(_store(session, message, job.media))
            elif job.error is not None and job.error.retryable and job.attempts + 1 < MAX_ATTEMPTS:
                delay = min(300.0, 5.0 * 3**job.attempts)
                await session.execute(
                    update(MediaFetch)
                    .where(MediaFetch.message_id == job.message_id)
                    .values(
                        attempts=job.attempts + 1,
                        next_attempt_at=moment + timedelta(seconds=delay),
                        lease_until=None,
                        last_error=(job.error.error_code or "error")[:255],
                    )
                )
                continue
            else:
                assert job.error is not None
                message.error_code = "media_unavailable"
                message.error_detail = job.error.detail[:1000]
                log.warning("media_unavailable", message_id=message.id, error=job.error.error_code)
            await session.execute(delete(MediaFetch).where(MediaFetch.message_id == message.id))
        await record_events(uow, ctx.bus, events)


def _store(session: Any, message: Message, media: FetchedMedia) -> EventSpec:
    content = dict(message.content)
    stored = MediaObject(
        id=new_id(),
        workspace_id=message.workspace_id,
        content_type=media.content_type or content.get("mime_type") or "application/octet-stream",
        size=len(media.data),
        data=media.data,
        filename=(content.get("filename") or media.filename or None),
    )
    session.add(stored)
    content["url"] = f"{LOCAL_PREFIX}{stored.id}"
    content.setdefault("mime_type", stored.content_type)
    message.content = content
    return EventSpec(
        workspace_id=message.workspace_id,
        type="message_updated",
        data={"message": message_view(message)},
        conversation_id=message.conversation_id,
        contact_id=message.contact_id,
    )
