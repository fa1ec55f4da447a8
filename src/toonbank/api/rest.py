"""The REST API (``/api/v1``), authenticated by workspace API keys and scoped to them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from toonbank.api.deps import get_ctx, require_scope
from toonbank.api.errors import ApiError
from toonbank.api.schemas import (
    AgentIn,
    AgentOut,
    ChannelIn,
    ChannelOut,
    ConversationOut,
    MessageDetail,
    MessageOut,
    SendMessage,
    StatusChange,
    TypingIn,
    WorkspaceOut,
)
from toonbank.auth.service import KeyPrincipal, create_agent
from toonbank.channels.connections import ConnectionSettingsError, create_connection
from toonbank.channels.registry import UnknownChannelType
from toonbank.channels.render import degrade
from toonbank.context import Context
from toonbank.conversations.events import contact_topic, lock_contacts
from toonbank.conversations.service import change_status, queue_outbound, recipients
from toonbank.conversations.states import InvalidTransition
from toonbank.models import ChannelConnection, Conversation, DeliveryAttempt, Message, Workspace
from toonbank.pipeline import outbound_media

router = APIRouter(prefix="/api/v1", tags=["api"])

READ = require_scope("conversations:read")
WRITE = require_scope("conversations:write")


@router.get("/workspace", response_model=WorkspaceOut)
async def whoami(principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)) -> Any:
    async with ctx.db.session() as session:
        return await session.get(Workspace, principal.workspace_id)


async def _conversation(
    ctx: Context, session: Any, principal: KeyPrincipal, cid: str
) -> Conversation:
    conversation = await session.get(Conversation, cid[:32])
    if conversation is None or conversation.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", "no such conversation in this workspace")
    return conversation


@router.get("/conversations", response_model=list[ConversationOut])
async def list_conversations(
    status: str | None = Query(default=None, pattern="^(bot|queued|assigned|closed)$"),
    limit: int = Query(default=50, ge=1, le=500),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    query = select(Conversation).where(Conversation.workspace_id == principal.workspace_id)
    if status:
        query = query.where(Conversation.status == status)
    query = query.order_by(Conversation.last_message_at.desc().nulls_last()).limit(limit)
    async with ctx.db.session() as session:
        return list((await session.execute(query)).scalars())


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: str, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        return await _conversation(ctx, session, principal, conversation_id)


@router.get("/conversations/{conversation_id}/messages", response_model=list[MessageOut])
async def list_messages(
    conversation_id: str,
    after: int = Query(default=0, ge=0),
    limit: int = Query(default=100, ge=1, le=1000),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.session() as session:
        await _conversation(ctx, session, principal, conversation_id)
        rows = await session.execute(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.workspace_id == principal.workspace_id,
                Message.id > after,
            )
            .order_by(Message.id)
            .limit(limit)
        )
        return list(rows.scalars())


@router.post(
    "/conversations/{conversation_id}/messages", response_model=list[MessageOut], status_code=202
)
async def send_message(
    conversation_id: str,
    body: SendMessage,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Queue a message to the customer on the channel they last used (delivered by the outbox)."""
    async with ctx.db.uow() as uow:
        conversation = await _conversation(ctx, uow.session, principal, conversation_id)
        if conversation.closed_at is not None:
            raise ApiError(409, "conversation_closed", "the conversation is closed")
        if conversation.last_connection_id is None:
            raise ApiError(409, "no_channel", "the customer has not written on any channel yet")
        connection = await ctx.connections.get(conversation.last_connection_id)
        if connection is None:
            raise ApiError(409, "no_channel", "the customer's channel is disabled")
        adapter = ctx.channels.get(connection.type)
        try:
            content = await outbound_media.owned(
                uow.session,
                principal.workspace_id,
                body.content,
                ctx.settings.public_url,
                adapter.manifest.capabilities,
            )
        except outbound_media.MediaRefused as exc:
            raise ApiError(exc.status, exc.code, exc.detail) from None
        key = (conversation.contact_id, connection.id)
        recipient = (await recipients(uow.session, {key})).get(key)
        messages = []
        for part in degrade(content, adapter.manifest.capabilities):
            messages.append(
                await queue_outbound(
                    uow,
                    ctx.bus,
                    conversation,
                    part,
                    sender=body.sender,
                    connection_id=connection.id,
                    channel_type=connection.type,
                    recipient=recipient,
                )
            )
        uow.on_commit(lambda: ctx.wake("dispatch"))
    return messages


@router.post("/conversations/{conversation_id}/status", response_model=ConversationOut)
async def set_status(
    conversation_id: str,
    body: StatusChange,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.uow() as uow:
        conversation = await _conversation(ctx, uow.session, principal, conversation_id)
        if body.status == "assigned":
            raise ApiError(422, "invalid_request", "assign conversations from the inbox")
        # Lock order (contacts, then conversations): without this the status UPDATE is flushed
        # before record_event locks the contact, and deadlocks against the process stage.
        await lock_contacts(uow, {conversation.contact_id})
        await uow.session.refresh(conversation)
        try:
            await change_status(
                uow,
                ctx.bus,
                conversation,
                body.status,
                reason=body.reason,
                actor=f"api:{principal.key_id}",
            )
        except InvalidTransition as exc:
            raise ApiError(409, "invalid_transition", str(exc)) from None
    return conversation


@router.post("/conversations/{conversation_id}/typing", status_code=204)
async def typing(
    conversation_id: str,
    body: TypingIn,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> None:
    """Show (or hide) a typing indicator to the customer where the channel supports it."""
    async with ctx.db.session() as session:
        conversation = await _conversation(ctx, session, principal, conversation_id)
    await ctx.bus.publish(
        contact_topic(conversation.contact_id),
        {"type": "typing", "sender": body.sender, "state": body.state},
    )


@router.get("/messages/{message_id}", response_model=MessageDetail)
async def get_message(
    message_id: int, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        message = await session.get(Message, message_id)
        if message is None or message.workspace_id != principal.workspace_id:
            raise ApiError(404, "not_found", "no such message in this workspace")
        attempts = await session.execute(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.id)
        )
        out = MessageDetail.model_validate(
            {
                **MessageOut.model_validate(message).model_dump(),
                "attempts_log": list(attempts.scalars()),
            },
            from_attributes=True,
        )
        return out


def channel_out(ctx: Context, row: ChannelConnection) -> ChannelOut:
    return ChannelOut(
        id=row.id,
        type=row.type,
        name=row.name,
        api_base_url=row.api_base_url,
        settings=row.settings or {},
        webhook_url=f"{ctx.settings.public_url.rstrip('/')}/webhooks/{row.id}",
        rate_per_second=row.rate_per_second,
    )


@router.get("/channels", response_model=list[ChannelOut])
async def list_channels(
    principal: KeyPrincipal = Depends(require_scope("channels:read")),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(ChannelConnection)
            .where(ChannelConnection.workspace_id == principal.workspace_id)
            .order_by(ChannelConnection.created_at)
        )
        return [channel_out(ctx, row) for row in rows.scalars()]


@router.post("/channels", response_model=ChannelOut, status_code=201)
async def add_channel(
    body: ChannelIn,
    principal: KeyPrincipal = Depends(require_scope("channels:write")),
    ctx: Context = Depends(get_ctx),
) -> Any:
    try:
        async with ctx.db.uow() as uow:
            row = await create_connection(
                uow.session,
                ctx.secret_box,
                ctx.channels,
                workspace_id=principal.workspace_id,
                type=body.type,
                name=body.name,
                values=dict(body.settings),
                api_base_url=body.api_base_url,
                rate_per_second=body.rate_per_second,
            )
    except UnknownChannelType:
        raise ApiError(
            422, "unknown_channel_type", f"types: {', '.join(ctx.channels.types())}"
        ) from None
    except ConnectionSettingsError as exc:
        raise ApiError(422, "invalid_settings", str(exc)) from None
    except IntegrityError:
        raise ApiError(409, "conflict", "a channel with this name already exists") from None
    return channel_out(ctx, row)


@router.post("/agents", response_model=AgentOut, status_code=201)
async def add_agent(
    body: AgentIn,
    principal: KeyPrincipal = Depends(require_scope("agents:write")),
    ctx: Context = Depends(get_ctx),
) -> Any:
    try:
        async with ctx.db.uow() as uow:
            agent = await create_agent(
                uow.session,
                workspace_id=principal.workspace_id,
                email=body.email,
                password=body.password,
                role=body.role,
                display_name=body.display_name,
            )
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    except IntegrityError:
        raise ApiError(409, "conflict", "an agent with this email exists") from None
    return agent
