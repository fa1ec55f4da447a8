"""All ORM tables, imported in one place so Alembic sees every one."""

from toonbank.models.assistant import AssistantIntentExample
from toonbank.models.base import Base, new_id, utcnow
from toonbank.models.catalog import (
    CatalogImport,
    CatalogState,
    Category,
    Location,
    Product,
    ProductVariant,
    ShippingMethod,
    StockLevel,
)
from toonbank.models.channels import ChannelConnection
from toonbank.models.contacts import Contact, ContactIdentity, LinkCode
from toonbank.models.conversations import (
    Conversation,
    ConversationTransition,
    DeliveryAttempt,
    Message,
    PendingReceipt,
)
from toonbank.models.inbox import AgentProfile, InboxAssignment, InboxNote
from toonbank.models.orders import (
    Cart,
    CartLine,
    DiscountCode,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    PaymentAccount,
    PaymentEvent,
    TaxRate,
)
from toonbank.models.pipeline import Event, InboundEvent, MediaFetch, MediaObject, WorkerLease
from toonbank.models.recommendations import Recommendation
from toonbank.models.tenancy import Agent, AgentSession, ApiKey, Workspace

__all__ = [
    "Agent",
    "AgentProfile",
    "AgentSession",
    "ApiKey",
    "AssistantIntentExample",
    "Base",
    "Cart",
    "CartLine",
    "CatalogImport",
    "CatalogState",
    "Category",
    "ChannelConnection",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationTransition",
    "DeliveryAttempt",
    "DiscountCode",
    "Event",
    "InboundEvent",
    "InboxAssignment",
    "InboxNote",
    "LinkCode",
    "Location",
    "MediaFetch",
    "MediaObject",
    "Message",
    "Order",
    "OrderEvent",
    "OrderLine",
    "Payment",
    "PaymentAccount",
    "PaymentEvent",
    "PendingReceipt",
    "Product",
    "ProductVariant",
    "Recommendation",
    "ShippingMethod",
    "StockLevel",
    "TaxRate",
    "WorkerLease",
    "Workspace",
    "new_id",
    "utcnow",
]
