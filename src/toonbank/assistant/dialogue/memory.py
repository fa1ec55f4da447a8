"""The contact's remembered preferences (``contacts.attributes["preferences"]``), shared by all
channels and conversations of the contact.

    {"size": "50", "sizes": {"blazer": "50", "sneakers": "42"}, "colours": ["blue"]}

A size is remembered per kind of item (a blazer size is no shoe size) and as the latest one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.models import Contact

KEY = "preferences"
MAX_COLOURS = 5
MAX_ITEMS = 30


async def load(session: AsyncSession, workspace_id: str, contact_id: str) -> dict[str, Any]:
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != workspace_id:
        return {}
    value = (contact.attributes or {}).get(KEY)
    return dict(value) if isinstance(value, dict) else {}


def size_for(preferences: dict[str, Any], item: str | None) -> str | None:
    sizes = preferences.get("sizes") or {}
    if item and isinstance(sizes, dict) and item in sizes:
        return str(sizes[item])
    return None


async def remember(
    session: AsyncSession,
    workspace_id: str,
    contact_id: str,
    *,
    item: str | None = None,
    size: str | None = None,
    colour: str | None = None,
) -> bool:
    """Store a size (for ``item``) and/or a favourite colour; True when something changed."""
    contact = await session.get(Contact, contact_id)
    if contact is None or contact.workspace_id != workspace_id:
        return False
    attributes = dict(contact.attributes or {})
    before = attributes.get(KEY) if isinstance(attributes.get(KEY), dict) else {}
    prefs: dict[str, Any] = dict(before or {})
    if size:
        prefs["size"] = size
        if item:
            sizes = dict(prefs.get("sizes") or {})
            sizes[item] = size
            prefs["sizes"] = dict(list(sizes.items())[-MAX_ITEMS:])
    if colour:
        colours = [c for c in prefs.get("colours") or [] if c != colour]
        prefs["colours"] = [colour, *colours][:MAX_COLOURS]
    if prefs == before:
        return False
    attributes[KEY] = prefs
    contact.attributes = attributes  # a new dict: JSON columns track assignment, not mutation
    await session.flush()
    return True
