"""The payments port: what every payment provider (sandbox, Stripe, Mollie) offers Toonbank.

Amounts are ``Money`` (integer minor units). Providers never write to the database; the
service (``payments/service.py``) records what they report and moves orders along.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, Protocol

from toonbank.commerce.money import Money

# Payment statuses, in the order a payment can move through them. A report of an earlier
# status than the one recorded (webhooks arriving out of order) is ignored.
OPEN, AUTHORIZED, PAID = "open", "authorized", "paid"
FAILED, EXPIRED, CANCELED = "failed", "expired", "canceled"
STATUSES: Final = (OPEN, AUTHORIZED, PAID, FAILED, EXPIRED, CANCELED)
FINAL: Final = frozenset({PAID, FAILED, EXPIRED, CANCELED})

Capture = Literal["automatic", "manual"]


class PaymentError(Exception):
    """The provider refused or could not be reached; ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class WebhookRejected(PaymentError):
    """A notification whose signature or content does not verify."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_signature", message)


@dataclass(frozen=True, slots=True)
class LinkRequest:
    payment_id: str
    token: str  # Toonbank's unguessable handle (the sandbox page's address)
    reference: str  # the order number, shown to the customer and the merchant
    amount: Money
    description: str
    return_url: str
    webhook_url: str
    expires_at: datetime
    capture: Capture = "automatic"


@dataclass(frozen=True, slots=True)
class Link:
    provider_ref: str
    url: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """What the provider says about one payment now (``amount_captured`` when paid)."""

    provider_ref: str
    status: str  # one of STATUSES
    amount_captured: Money | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified webhook: which payment it is about and, when the provider says, its status.

    ``event_id`` is unique per provider (duplicates are ignored); ``status`` None means
    "something changed, fetch it" (Mollie sends only the id). An empty ``event_id`` means the
    provider has none: the service then keys the event on the fetched state
    (``<provider_ref>:<status>``), so a repeated webhook for the same state is ignored.
    """

    event_id: str
    provider_ref: str
    status: str | None = None
    type: str = "payment"


class PaymentProvider(Protocol):
    name: str

    async def create_link(self, request: LinkRequest) -> Link: ...

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> list[Notification]: ...

    async def fetch_status(self, provider_ref: str) -> ProviderStatus: ...

    async def refund(self, provider_ref: str, amount: Money, key: str) -> str:
        """Refund ``amount``; ``key`` is an idempotency key (a retry never refunds twice)."""
        ...

    async def capture(self, provider_ref: str, amount: Money) -> None: ...

    async def release(self, provider_ref: str) -> None: ...

    async def cancel_link(self, provider_ref: str) -> None:
        """Stop an open link so it can no longer be paid (expiry, a newer link)."""
        ...
