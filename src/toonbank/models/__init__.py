"""All ORM tables, imported in one place so Alembic sees every one."""

from toonbank.models.base import Base, new_id, utcnow
from toonbank.models.channels import ChannelConnection
from toonbank.models.contacts import Contact, ContactIdentity, LinkCode
from toonbank.models.conversations import (
    Conversation,
    ConversationTransition,
    DeliveryAttempt,
    Message,
    PendingReceipt,
)
from toonbank.models.pipeline import Event, InboundEvent, MediaFetch, MediaObject, WorkerLease
from toonbank.models.tenancy import Agent, AgentSession, ApiKey, Workspace

__all__ = [
    "Agent",
    "AgentSession",
    "ApiKey",
    "Base",
    "ChannelConnection",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationTransition",
    "DeliveryAttempt",
    "Event",
    "InboundEvent",
    "LinkCode",
    "MediaFetch",
    "MediaObject",
    "Message",
    "PendingReceipt",
    "WorkerLease",
    "Workspace",
    "new_id",
    "utcnow",
]
