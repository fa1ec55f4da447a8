"""Finding (or creating) the contact behind a channel identity."""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.db.portable import insert_ignore
from toonbank.models import Contact, ContactIdentity, new_id


async def resolve_contact(
    session: AsyncSession,
    *,
    workspace_id: str,
    channel_type: str,
    external_id: str,
    connection_id: str | None,
    display_name: str | None = None,
    phone: str | None = None,
    seen_at: datetime | None = None,
) -> str:
    """Return the contact id for this identity, creating contact and identity on first sight.

    A new identity whose (provider-verified) phone number matches a known contact joins that
    contact: the same customer on WhatsApp, SMS and voice is one contact, one conversation.

    Race-free: the identity insert is ``ON CONFLICT DO NOTHING`` on its unique key; the loser of
    a race deletes the contact it pre-created in the same transaction and uses the winner's.
    """
    existing = await _identity_contact(session, workspace_id, channel_type, external_id)
    if existing is None:
        phone = normalize_phone(phone)
        found = await _contact_by_phone(session, workspace_id, phone) if phone else None
        created = found is None
        contact_id = found or new_id()
        if created:
            session.add(
                Contact(
                    id=contact_id,
                    workspace_id=workspace_id,
                    display_name=display_name,
                    phone=phone,
                )
            )
            await session.flush()
        table = ContactIdentity.__table__
        result = await session.execute(
            insert_ignore(session, table, ("workspace_id", "channel_type", "external_id"))
            .values(
                id=new_id(),
                workspace_id=workspace_id,
                contact_id=contact_id,
                channel_type=channel_type,
                external_id=external_id,
                connection_id=connection_id,
                last_inbound_at=seen_at,
                created_at=seen_at or _now(),
            )
            .returning(table.c.contact_id)
        )
        if result.scalar_one_or_none() is not None:
            return contact_id
        if created:
            await session.execute(delete(Contact).where(Contact.id == contact_id))
        existing = await _identity_contact(session, workspace_id, channel_type, external_id)
        assert existing is not None
    if seen_at is not None:
        await session.execute(
            update(ContactIdentity)
            .where(
                ContactIdentity.workspace_id == workspace_id,
                ContactIdentity.channel_type == channel_type,
                ContactIdentity.external_id == external_id,
            )
            .values(last_inbound_at=seen_at, connection_id=connection_id)
        )
    return existing


def normalize_phone(raw: str | None) -> str | None:
    """E.164 (``+31612345678``) or None when it is not a valid international number."""
    if not raw:
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    elif not text.startswith("+"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


async def _contact_by_phone(session: AsyncSession, workspace_id: str, phone: str) -> str | None:
    """The customer we already know by this phone number (WhatsApp, SMS and voice join here)."""
    return (
        await session.execute(
            select(Contact.id)
            .where(Contact.workspace_id == workspace_id, Contact.phone == phone)
            .order_by(Contact.created_at)
            .limit(1)
        )
    ).scalar_one_or_none()


async def _identity_contact(
    session: AsyncSession, workspace_id: str, channel_type: str, external_id: str
) -> str | None:
    result = await session.execute(
        select(ContactIdentity.contact_id).where(
            ContactIdentity.workspace_id == workspace_id,
            ContactIdentity.channel_type == channel_type,
            ContactIdentity.external_id == external_id,
        )
    )
    return result.scalar_one_or_none()


def _now() -> datetime:
    from toonbank.kit.clock import now

    return now()
