"""One customer across channels: link an identity to a contact with a one-time code.

Identities that share a phone number join one contact by themselves (see
:func:`toonbank.contacts.service.resolve_contact`). Channels without a phone number (web chat,
Telegram, Messenger, LINE, …) are joined by a code: the business issues one to the known
contact (REST ``POST /api/v1/contacts/{id}/link-code``; an agent or the assistant passes it
on), and the customer sends ``LINK K7M2-Q9XD`` from the other channel. The sender's contact is
then merged into the code's contact: identities, conversations, messages and events move over,
so the history shows every channel in order.

Security: a successful link hands the other contact's history and cart to whoever sent the
code, so codes are 8 characters from a 31-letter alphabet (~40 bits), stored only as a hash,
valid for 15 minutes, usable once, and a sender gets 5 wrong tries per hour.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from toonbank.contacts.consent import KEY as OPT_OUT_KEY
from toonbank.conversations.events import EventSpec, lock_contacts
from toonbank.conversations.service import change_status
from toonbank.conversations.states import CLOSED
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.kit.crypto import sha256_hex
from toonbank.models import Contact, ContactIdentity, Conversation, Event, LinkCode, Message
from toonbank.realtime import Bus

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I look-alikes
LENGTH = 8
TTL = timedelta(minutes=15)
MAX_FAILURES_PER_HOUR = 5
KEYWORDS = ("link", "koppel", "koppelen", "verknüpfen", "verknuepfen", "lier", "vincular")
_PATTERN = re.compile(
    rf"^\s*(?:{'|'.join(KEYWORDS)})\s*[:#]?\s*([A-Za-z0-9]{{4}})-?([A-Za-z0-9]{{4}})\s*[.!]?\s*$",
    re.IGNORECASE,
)


def _hash(workspace_id: str, code: str) -> str:
    return sha256_hex(f"{workspace_id}:{code.upper()}")


def format_code(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:]}"


def parse_link_request(text: str | None) -> str | None:
    """``"LINK k7m2-q9xd"`` → ``"K7M2Q9XD"``; anything else → None."""
    if not text:
        return None
    match = _PATTERN.match(text)
    return (match.group(1) + match.group(2)).upper() if match else None


async def issue_code(session: Any, workspace_id: str, contact_id: str) -> tuple[str, datetime]:
    """A fresh code for the contact (shown once) and when it expires."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    expires = now() + TTL
    session.add(
        LinkCode(
            workspace_id=workspace_id,
            contact_id=contact_id,
            code_hash=_hash(workspace_id, code),
            expires_at=expires,
        )
    )
    return format_code(code), expires


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    status: str
    """``linked``, ``already`` (same contact), ``invalid``, ``expired`` or ``too_many``."""
    contact_id: str
    """The contact the sender belongs to afterwards."""


async def redeem(
    uow: UnitOfWork, bus: Bus, *, workspace_id: str, contact_id: str, code: str, channel: str
) -> tuple[LinkOutcome, list[EventSpec]]:
    """Try the code sent by ``contact_id``; merge on success. Returns the outcome and the
    (private) events to record."""
    session = uow.session
    moment = now()
    failures = await session.scalar(
        select(func.count())
        .select_from(Event)
        .where(
            Event.contact_id == contact_id,
            Event.type == "link_failed",
            Event.created_at > moment - timedelta(hours=1),
        )
    )
    if (failures or 0) >= MAX_FAILURES_PER_HOUR:
        return LinkOutcome("too_many", contact_id), []
    row = await session.scalar(
        select(LinkCode).where(
            LinkCode.workspace_id == workspace_id,
            LinkCode.code_hash == _hash(workspace_id, code),
            LinkCode.used_at.is_(None),
        )
    )
    if row is None or row.expires_at <= moment:
        status = "invalid" if row is None else "expired"
        failed = EventSpec(workspace_id, "link_failed", {"reason": status}, None, contact_id, False)
        return LinkOutcome(status, contact_id), [failed]
    row.used_at = moment
    if row.contact_id == contact_id:
        return LinkOutcome("already", contact_id), []
    await merge_contacts(uow, bus, source_id=contact_id, target_id=row.contact_id)
    linked = EventSpec(
        workspace_id,
        "contact_linked",
        {"merged_contact_id": contact_id, "channel": channel},
        None,
        row.contact_id,
        False,
    )
    return LinkOutcome("linked", row.contact_id), [linked]


async def merge_contacts(uow: UnitOfWork, bus: Bus, *, source_id: str, target_id: str) -> None:
    """Move everything of ``source`` to ``target`` and delete ``source``.

    If both have an open conversation, the source's is closed first (one open conversation
    per contact); its messages move along, so the target's history holds both, in order.
    """
    session = uow.session
    await lock_contacts(uow, {source_id, target_id})
    source = await session.get(Contact, source_id)
    target = await session.get(Contact, target_id)
    if source is None or target is None or source.workspace_id != target.workspace_id:
        raise ValueError("contacts to merge must exist in the same workspace")
    open_ = {
        c.contact_id: c
        for c in (
            await session.execute(
                select(Conversation).where(
                    Conversation.contact_id.in_([source_id, target_id]),
                    Conversation.closed_at.is_(None),
                )
            )
        ).scalars()
    }
    if source_id in open_ and target_id in open_:
        await change_status(uow, bus, open_[source_id], CLOSED, reason="merged", actor="system")
        await session.flush()
    for model in (ContactIdentity, Conversation, Message, Event, LinkCode):
        column: Any = model.contact_id
        await session.execute(
            update(model)
            .where(column == source_id)
            .values(contact_id=target_id)
            .execution_options(synchronize_session=False)
        )
    attributes = {**(source.attributes or {}), **(target.attributes or {})}
    opted = set((source.attributes or {}).get(OPT_OUT_KEY, [])) | set(
        (target.attributes or {}).get(OPT_OUT_KEY, [])
    )
    if opted:
        attributes[OPT_OUT_KEY] = sorted(opted)
    target.attributes = attributes
    target.display_name = target.display_name or source.display_name
    target.phone = target.phone or source.phone
    target.email = target.email or source.email
    target.locale = target.locale or source.locale
    await session.flush()
    await session.execute(delete(Contact).where(Contact.id == source_id))


_LANGUAGE_OF_KEYWORD = {"koppel": "nl", "koppelen": "nl", "verknüpfen": "de", "verknuepfen": "de"}
_LANGUAGE_OF_KEYWORD |= {"lier": "fr", "vincular": "es"}
REPLIES: dict[str, dict[str, str]] = {
    "en": {
        "linked": "Done: this chat is now linked to your customer profile. Your history and "
        "cart are here too.",
        "already": "This chat is already linked to your profile.",
        "invalid": "That code is not valid. Please check it, or ask us for a new one.",
        "expired": "That code has expired. Please ask us for a new one.",
        "too_many": "Too many attempts. Please try again in an hour.",
    },
    "nl": {
        "linked": "Gelukt: deze chat is nu gekoppeld aan je klantprofiel. Je geschiedenis en "
        "winkelwagen staan hier ook.",
        "already": "Deze chat is al gekoppeld aan je profiel.",
        "invalid": "Die code klopt niet. Controleer hem of vraag ons om een nieuwe.",
        "expired": "Die code is verlopen. Vraag ons om een nieuwe.",
        "too_many": "Te veel pogingen. Probeer het over een uur opnieuw.",
    },
    "de": {
        "linked": "Erledigt: Dieser Chat ist jetzt mit Ihrem Kundenprofil verknüpft. Ihr "
        "Verlauf und Ihr Warenkorb sind auch hier.",
        "already": "Dieser Chat ist bereits mit Ihrem Profil verknüpft.",
        "invalid": "Dieser Code ist ungültig. Bitte prüfen Sie ihn oder fragen Sie uns nach "
        "einem neuen.",
        "expired": "Dieser Code ist abgelaufen. Bitte fragen Sie uns nach einem neuen.",
        "too_many": "Zu viele Versuche. Bitte versuchen Sie es in einer Stunde erneut.",
    },
    "fr": {
        "linked": "C'est fait : cette conversation est maintenant liée à votre profil client. "
        "Votre historique et votre panier sont aussi ici.",
        "already": "Cette conversation est déjà liée à votre profil.",
        "invalid": "Ce code n'est pas valide. Vérifiez-le ou demandez-nous un nouveau code.",
        "expired": "Ce code a expiré. Demandez-nous un nouveau code.",
        "too_many": "Trop de tentatives. Réessayez dans une heure.",
    },
    "es": {
        "linked": "Hecho: este chat ya está vinculado a tu perfil de cliente. Tu historial y "
        "tu carrito también están aquí.",
        "already": "Este chat ya está vinculado a tu perfil.",
        "invalid": "Ese código no es válido. Revísalo o pídenos uno nuevo.",
        "expired": "Ese código ha caducado. Pídenos uno nuevo.",
        "too_many": "Demasiados intentos. Vuelve a intentarlo en una hora.",
    },
}


def reply_text(status: str, text: str | None) -> str:
    """The confirmation for ``status``, in the language of the keyword the customer used."""
    keyword = (text or "").strip().split(maxsplit=1)[0].lower() if (text or "").strip() else ""
    keyword = keyword.rstrip(":#")
    return REPLIES[_LANGUAGE_OF_KEYWORD.get(keyword, "en")][status]
