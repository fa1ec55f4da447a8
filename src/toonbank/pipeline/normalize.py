"""Stage 2 — normalize: ledger rows → contacts, conversations, messages, receipt updates.

One worker at a time (a row-locked singleton) walks the ledger in arrival order, so two events
for the same new customer can never create two contacts or two conversations, and messages
enter each conversation in the order they arrived. The work is set-based: a batch of events
costs a handful of statements, not a handful per event, so the stage keeps up under load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, func, select, tuple_, update

from toonbank.channels.base import Connection
from toonbank.channels.content import Text
from toonbank.contacts.consent import opted_out, set_opt_out
from toonbank.contacts.linking import parse_link_request, redeem, reply_text
from toonbank.contacts.service import resolve_contact
from toonbank.conversations.events import EventSpec, lock_contacts, message_view_of, record_events
from toonbank.conversations.service import Outbound, open_conversation, queue_outbound_many
from toonbank.db.portable import insert_ignore
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.models import ContactIdentity, Conversation, InboundEvent, Message, PendingReceipt
from toonbank.models.base import table_of
from toonbank.ops import metrics
from toonbank.pipeline.leases import claim_singleton, release_singleton
from toonbank.pipeline.media import enqueue as enqueue_media
from toonbank.pipeline.media import needs_fetch
from toonbank.pipeline.receipts import advance, select_states, states_of, write_statuses

log = structlog.get_logger(__name__)
BATCH = 500
# Core tables: the hot statements below skip the ORM (identity map, autoflush, bulk planning).
_E = table_of(InboundEvent)
_I = table_of(ContactIdentity)
_C = table_of(Conversation)
_M = table_of(Message)


@dataclass(slots=True)
class _Row:
    """The columns of a ledger row the normalizer reads."""

    id: int
    connection_id: str
    kind: str
    payload: dict[str, Any]
    received_at: datetime


_ROW_COLUMNS = [_E.c[name] for name in _Row.__dataclass_fields__]
_IDENTITY_SEEN = (
    update(_I)
    .where(_I.c.id == bindparam("i_id"))
    .values(last_inbound_at=bindparam("i_seen"), connection_id=bindparam("i_connection"))
)
_PENDING_LEDGER = (
    select(*_ROW_COLUMNS).where(_E.c.processed_at.is_(None)).order_by(_E.c.id).limit(BATCH)
)
_LEDGER_DONE = (
    update(_E)
    .where(_E.c.id.in_(bindparam("e_ids", expanding=True)))
    .values(processed_at=bindparam("e_done"))
)
_KNOWN_IDENTITIES = select(
    _I.c.workspace_id, _I.c.channel_type, _I.c.external_id, _I.c.id, _I.c.contact_id
).where(
    tuple_(_I.c.workspace_id, _I.c.channel_type, _I.c.external_id).in_(
        bindparam("i_keys", expanding=True)
    )
)
_OPEN_CONVERSATIONS = select(_C.c.contact_id, _C.c.id).where(
    _C.c.contact_id.in_(bindparam("c_contacts", expanding=True)), _C.c.closed_at.is_(None)
)
_CONVERSATION_TOUCHED = (
    update(_C)
    .where(_C.c.id == bindparam("c_id"))
    .values(last_message_at=bindparam("c_last"), last_connection_id=bindparam("c_connection"))
)


@dataclass(slots=True)
class _Item:
    row: _Row
    connection: Connection

    @property
    def identity_key(self) -> tuple[str, str, str]:
        return (self.connection.workspace_id, self.connection.type, self.row.payload["sender_id"])


async def normalize_batch(ctx: Any, owner: str) -> int:
    """Normalize one batch of pending ledger rows; returns how many were handled."""
    # The lease is claimed and released inside this one transaction: its row lock is what keeps
    # a second normalizer out until we commit. SQLite's write lock (``BEGIN IMMEDIATE``)
    # already serializes whole transactions, so there the lease would only cost statements.
    singleton = not ctx.db.is_sqlite
    async with ctx.db.uow() as uow:
        if singleton and not await claim_singleton(
            uow.session, "normalize", owner, ctx.settings.lease_seconds
        ):
            return 0
        rows = [_Row(*row) for row in await uow.session.execute(_PENDING_LEDGER)]
        messages: list[_Item] = []
        receipts: list[_Item] = []
        orphans: list[int] = []
        for row in rows:
            connection = await ctx.connections.get(row.connection_id)
            if connection is None:
                orphans.append(row.id)
            elif row.kind == "message":
                messages.append(_Item(row, connection))
            elif row.kind == "receipt":
                receipts.append(_Item(row, connection))
        stored = await _messages(ctx, uow, messages) if messages else 0
        if receipts:
            await _receipts(ctx, uow, receipts)
        if orphans:
            await uow.session.execute(
                update(_E)
                .where(_E.c.id.in_(orphans))
                .values(error="connection removed or disabled")
            )
        if rows:
            await uow.session.execute(
                _LEDGER_DONE, {"e_ids": [r.id for r in rows], "e_done": now()}
            )
        if singleton:
            await release_singleton(uow.session, "normalize", owner)
        if stored:
            uow.on_commit(lambda: ctx.wake("process"))
    return len(rows)


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _contacts(uow: UnitOfWork, items: list[_Item]) -> dict[tuple[str, str, str], str]:
    """Identity → contact id for every sender in the batch (creating the new ones)."""
    keys = {item.identity_key for item in items}
    found = await uow.session.execute(_KNOWN_IDENTITIES, {"i_keys": list(keys)})
    contacts: dict[tuple[str, str, str], str] = {}
    identity_ids: dict[tuple[str, str, str], str] = {}
    for ws, channel, external, identity_id, contact_id in found:
        contacts[(ws, channel, external)] = contact_id
        identity_ids[(ws, channel, external)] = identity_id
    last_seen: dict[tuple[str, str, str], _Item] = {}
    for item in items:
        key = item.identity_key
        last_seen[key] = item
        if key not in contacts:
            contacts[key] = await resolve_contact(
                uow.session,
                workspace_id=item.connection.workspace_id,
                channel_type=item.connection.type,
                external_id=key[2],
                connection_id=item.connection.id,
                display_name=item.row.payload.get("sender_name"),
                phone=item.row.payload.get("phone"),
                seen_at=item.row.received_at,
            )
    updates = [
        {
            "i_id": identity_ids[key],
            "i_seen": item.row.received_at,
            "i_connection": item.connection.id,
        }
        for key, item in last_seen.items()
        if key in identity_ids
    ]
    if updates:
        await uow.session.execute(_IDENTITY_SEEN, updates)
    return contacts


async def _conversations(
    ctx: Any, uow: UnitOfWork, contact_ids: set[str], workspace_of: dict[str, str]
) -> dict[str, str]:
    """Contact id → open conversation id (opening conversations where needed)."""
    found = await uow.session.execute(_OPEN_CONVERSATIONS, {"c_contacts": list(contact_ids)})
    conversations = {contact_id: conversation_id for contact_id, conversation_id in found}
    for contact_id in sorted(contact_ids - conversations.keys()):
        conversation = await open_conversation(
            uow, ctx.bus, workspace_id=workspace_of[contact_id], contact_id=contact_id
        )
        conversations[contact_id] = conversation.id
    return conversations


async def _messages(ctx: Any, uow: UnitOfWork, items: list[_Item]) -> int:
    """Insert the batch's messages (deduplicated), their events and conversation updates."""
    session = uow.session
    contacts = await _contacts(uow, items)
    link_specs, linked = await _links(ctx, uow, items, contacts)
    workspace_of = {contacts[i.identity_key]: i.connection.workspace_id for i in items}
    conversations = await _conversations(ctx, uow, set(contacts.values()), workspace_of)
    blocked = await opted_out(session, set(contacts.values()))
    values = []
    for item in items:
        payload = item.row.payload
        contact_id = contacts[item.identity_key]
        values.append(
            {
                "workspace_id": item.connection.workspace_id,
                "conversation_id": conversations[contact_id],
                "contact_id": contact_id,
                "connection_id": item.connection.id,
                "direction": "in",
                "sender": "contact",
                "content": payload["content"],
                "provider_message_id": payload["provider_message_id"],
                "reply_to_provider_id": payload.get("reply_to"),
                # A link request is answered here (below), not by the bot.
                "status": "processed" if id(item) in linked else "received",
                "processed_at": item.row.received_at if id(item) in linked else None,
                "attempts": 0,
                "provider_timestamp": _parse_time(payload.get("timestamp")),
                "created_at": item.row.received_at,
            }
        )
    result = await session.execute(
        insert_ignore(session, _M, ("connection_id", "direction", "provider_message_id")).returning(
            _M.c.id, _M.c.connection_id, _M.c.provider_message_id
        ),
        values,
    )
    inserted = {(conn, pid): mid for mid, conn, pid in result}
    specs: list[EventSpec] = list(link_specs)
    touched: dict[str, dict[str, Any]] = {}
    confirmations: list[Outbound] = []
    media: list[dict[str, Any]] = []  # provider media to copy into our storage
    for item, value in zip(items, values, strict=True):
        key = (item.connection.id, value["provider_message_id"])
        message_id = inserted.pop(key, None)
        if message_id is None:
            metrics.DUPLICATES.labels(item.connection.type).inc()
            continue
        view = message_view_of(message_id, value, item.connection.type)
        specs.append(
            EventSpec(
                workspace_id=value["workspace_id"],
                type="message",
                data={"message": view},
                conversation_id=value["conversation_id"],
                contact_id=value["contact_id"],
            )
        )
        touched[value["conversation_id"]] = {
            "c_id": value["conversation_id"],
            "c_last": value["created_at"],
            "c_connection": item.connection.id,
        }
        metrics.MESSAGES_IN.labels(item.connection.type).inc()
        if id(item) in linked:
            confirmations.append(_confirmation(item, value, linked[id(item)]))
        if needs_fetch(value["content"]):
            media.append(
                {
                    "message_id": message_id,
                    "workspace_id": value["workspace_id"],
                    "connection_id": item.connection.id,
                    "url": value["content"]["url"],
                }
            )
        await _consent(ctx, session, item, value["contact_id"], blocked)
        if ctx.settings.log_bodies:  # opt-in debugging aid; off by default (privacy)
            log.info("inbound_body", message_id=message_id, content=value["content"])
    await record_events(uow, ctx.bus, specs)
    if touched:
        await session.execute(_CONVERSATION_TOUCHED, list(touched.values()))
    if media:
        await enqueue_media(session, media)
        uow.on_commit(lambda: ctx.wake("media"))
    if confirmations:
        await queue_outbound_many(uow, ctx.bus, confirmations)
        uow.on_commit(lambda: ctx.wake("dispatch"))
    return len(specs) - len(link_specs)


async def _links(
    ctx: Any, uow: UnitOfWork, items: list[_Item], contacts: dict[tuple[str, str, str], str]
) -> tuple[list[EventSpec], dict[int, str]]:
    """Redeem "LINK <code>" messages: the sender's contact may merge into another one.

    Updates ``contacts`` in place; returns the events to record and, per link message (by
    ``id(item)``), the outcome status.
    """
    specs: list[EventSpec] = []
    outcomes: dict[int, str] = {}
    for item in items:
        content = item.row.payload["content"]
        code = parse_link_request(content.get("text")) if content.get("type") == "text" else None
        if code is None:
            continue
        sender = contacts[item.identity_key]
        outcome, events = await redeem(
            uow,
            ctx.bus,
            workspace_id=item.connection.workspace_id,
            contact_id=sender,
            code=code,
            channel=item.connection.type,
        )
        specs.extend(events)
        outcomes[id(item)] = outcome.status
        if outcome.contact_id != sender:
            for key, contact_id in contacts.items():
                if contact_id == sender:
                    contacts[key] = outcome.contact_id
    return specs, outcomes


def _confirmation(item: _Item, value: dict[str, Any], status: str) -> Outbound:
    return Outbound(
        workspace_id=value["workspace_id"],
        conversation_id=value["conversation_id"],
        contact_id=value["contact_id"],
        connection_id=item.connection.id,
        channel_type=item.connection.type,
        content=Text(text=reply_text(status, value["content"].get("text"))),
        sender="system",
        recipient=item.row.payload["sender_id"],
    )


async def _consent(
    ctx: Any, session: Any, item: _Item, contact_id: str, blocked: dict[str, set[str]]
) -> None:
    """STOP/START keywords; on channels without keywords a new message lifts an opt-out."""
    extra = item.row.payload.get("extra") or {}
    channel = item.connection.type
    if extra.get("opt_out"):
        await set_opt_out(session, contact_id, channel, True)
        blocked.setdefault(contact_id, set()).add(channel)
    elif channel in blocked.get(contact_id, set()) and (
        extra.get("opt_in") or not ctx.channels.get(channel).manifest.keyword_opt_in
    ):
        await set_opt_out(session, contact_id, channel, False)
        blocked[contact_id].discard(channel)


async def _receipts(ctx: Any, uow: UnitOfWork, items: list[_Item]) -> None:
    session = uow.session
    keys = {(i.connection.id, i.row.payload["provider_message_id"]) for i in items}
    found = await session.execute(
        select_states().where(
            _M.c.direction == "out",
            tuple_(_M.c.connection_id, _M.c.provider_message_id).in_(list(keys)),
        )
    )
    messages = {(m.connection_id, m.provider_message_id): m for m in states_of(found.all())}
    specs: list[EventSpec] = []
    changed: dict[int, Any] = {}
    for item in items:
        payload = item.row.payload
        occurred = _parse_time(payload.get("timestamp")) or now()
        message = messages.get((item.connection.id, payload["provider_message_id"]))
        if message is None:
            # The provider reported on a message whose send call has not returned to us yet.
            session.add(
                PendingReceipt(
                    workspace_id=item.connection.workspace_id,
                    connection_id=item.connection.id,
                    provider_message_id=payload["provider_message_id"],
                    status=payload["status"],
                    error_code=payload.get("error_code"),
                    error_detail=payload.get("error_detail"),
                    occurred_at=occurred,
                )
            )
            continue
        spec = advance(
            message,
            payload["status"],
            occurred_at=occurred,
            error_code=payload.get("error_code"),
            error_detail=payload.get("error_detail"),
        )
        if spec is not None:
            specs.append(spec)
            changed[message.id] = message
    # Lock order (contacts, then messages) as in the dispatcher's finish: no deadlock with it.
    await lock_contacts(uow, {m.contact_id for m in changed.values()})
    await write_statuses(session, list(changed.values()))
    await record_events(uow, ctx.bus, specs)  # one insert for the batch's status events


async def pending_count(ctx: Any) -> int:
    async with ctx.db.session() as session:
        value = await session.scalar(
            select(func.count()).select_from(_E).where(_E.c.processed_at.is_(None))
        )
    return int(value or 0)
