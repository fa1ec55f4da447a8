"""Contacts over the REST API: one customer's history across channels, and link codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.api.deps import get_ctx
from toonbank.api.errors import ApiError
from toonbank.api.rest import READ, WRITE
from toonbank.api.schemas import MessageOut
from toonbank.auth.service import KeyPrincipal
from toonbank.contacts.linking import TTL, issue_code
from toonbank.context import Context
from toonbank.models import ChannelConnection, Contact, ContactIdentity, Message

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])


class IdentityOut(BaseModel):
    channel_type: str
    external_id: str
    last_inbound_at: datetime | None


class ContactOut(BaseModel):
    id: str
    display_name: str | None
    phone: str | None
    email: str | None
    locale: str | None
    identities: list[IdentityOut]


class HistoryMessageOut(MessageOut):
    channel: str | None
    """The channel type the message came in or went out on."""


class LinkCodeOut(BaseModel):
    code: str
    expires_at: datetime
    instructions: str


async def _contact(session: AsyncSession, principal: KeyPrincipal, contact_id: str) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != principal.workspace_id:
        raise ApiError(404, "not_found", "no such contact in this workspace")
    return contact


@router.get("/{contact_id}", response_model=ContactOut)
async def get_contact(
    contact_id: str, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        contact = await _contact(session, principal, contact_id)
        identities = (
            await session.execute(
                select(ContactIdentity)
                .where(ContactIdentity.contact_id == contact.id)
                .order_by(ContactIdentity.created_at)
            )
        ).scalars()
        return ContactOut(
            id=contact.id,
            display_name=contact.display_name,
            phone=contact.phone,
            email=contact.email,
            locale=contact.locale,
            identities=[
                IdentityOut(
                    channel_type=i.channel_type,
                    external_id=i.external_id,
                    last_inbound_at=i.last_inbound_at,
                )
                for i in identities
            ],
        )


@router.get("/{contact_id}/messages", response_model=list[HistoryMessageOut])
async def contact_history(
    contact_id: str,
    after: int = Query(default=0, ge=0),
    limit: int = Query(default=100, ge=1, le=1000),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Every message with this customer, on every channel and in every conversation, in order."""
    async with ctx.db.session() as session:
        await _contact(session, principal, contact_id)
        rows = await session.execute(
            select(Message, ChannelConnection.type)
            .outerjoin(ChannelConnection, ChannelConnection.id == Message.connection_id)
            .where(
                Message.contact_id == contact_id,
                Message.workspace_id == principal.workspace_id,
                Message.id > after,
            )
            .order_by(Message.id)
            .limit(limit)
        )
        return [
            HistoryMessageOut.model_validate(
                {**MessageOut.model_validate(m).model_dump(), "channel": channel}
            )
            for m, channel in rows
        ]


@router.post("/{contact_id}/link-code", response_model=LinkCodeOut, status_code=201)
async def create_link_code(
    contact_id: str, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> Any:
    """A one-time code the customer sends from another channel to join it to this contact."""
    async with ctx.db.uow() as uow:
        await _contact(uow.session, principal, contact_id)
        code, expires = await issue_code(uow.session, principal.workspace_id, contact_id)
    minutes = int(TTL.total_seconds() // 60)
    return LinkCodeOut(
        code=code,
        expires_at=expires,
        instructions=f"Send LINK {code} from the other channel within {minutes} minutes.",
    )
