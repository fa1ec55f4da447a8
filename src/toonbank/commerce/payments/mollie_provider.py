"""Mollie through the official ``mollie-api-python`` SDK: Payments API links, webhooks verified
by fetching, refunds, and "authorise now, capture later" (``captureMode: manual``).

Mollie's webhook is a bare ``POST`` with the form field ``id=tr_…`` and no signature: anybody
can send one. So the body is never trusted: the service looks the id up among its own payments
and then fetches the payment from the API with the workspace's key; only what the API answers
counts. A forged id (unknown here, or unknown to Mollie for this key) changes nothing.

The SDK is synchronous (``requests``); every call runs in a worker thread so the event loop
never blocks. ``API_BASE`` points the SDK at a local fake in tests (never settable through the
API).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs

from mollie.api.client import Client
from mollie.api.error import Error as MollieError
from mollie.api.error import NotFoundError
from mollie.api.objects.payment import Payment as MolliePayment

from toonbank.commerce.money import Money
from toonbank.commerce.payments.port import (
    AUTHORIZED,
    CANCELED,
    EXPIRED,
    FAILED,
    OPEN,
    PAID,
    Link,
    LinkRequest,
    Notification,
    PaymentError,
    ProviderStatus,
    WebhookRejected,
)

API_BASE: str | None = None
PAYMENT_ID: Final = re.compile(r"^tr_[A-Za-z0-9]{1,64}$")
API_KEY: Final = re.compile(r"^(live|test)_\w{8,}$")
_STATUS: Final = {
    "open": OPEN,
    "pending": OPEN,  # started, result not known yet
    "authorized": AUTHORIZED,
    "paid": PAID,
    "failed": FAILED,
    "expired": EXPIRED,
    "canceled": CANCELED,
}
T = TypeVar("T")


def amount_json(amount: Money) -> dict[str, str]:
    """Mollie's amount object: the currency and a string with exactly its decimals."""
    return {"currency": amount.currency, "value": f"{amount.amount:.{amount.exponent}f}"}


def money_of(value: Any) -> Money | None:
    if not isinstance(value, Mapping) or "value" not in value or "currency" not in value:
        return None
    return Money.of(str(value["value"]), str(value["currency"]))


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class MollieProvider:
    name = "mollie"

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def _client(self) -> Client:
        client = Client(api_endpoint=API_BASE or "", timeout=(5, 20), retry=2)
        client.set_api_key(self._api_key)
        client.set_user_agent_component("Toonbank", "0.1")
        return client

    async def _run(self, call: Callable[[Client], T]) -> T:
        """Run one SDK call in a thread; Mollie's errors become ``PaymentError``."""

        def work() -> T:
            return call(self._client())

        try:
            return await asyncio.to_thread(work)
        except NotFoundError:
            raise PaymentError("not_found", "Mollie does not know this payment") from None
        except MollieError as exc:
            raise PaymentError("provider_error", f"Mollie: {exc}") from None

    async def create_link(self, request: LinkRequest) -> Link:
        data: dict[str, Any] = {
            "amount": amount_json(request.amount),
            "description": request.description[:255],
            "redirectUrl": request.return_url,
            "webhookUrl": request.webhook_url,
            "metadata": {"toonbank_payment_id": request.payment_id, "order": request.reference},
        }
        if request.capture == "manual":
            data["captureMode"] = "manual"
        payment = await self._run(
            lambda c: c.payments.create(data, idempotency_key=f"toonbank-{request.payment_id}")
        )
        url = payment.checkout_url
        if not isinstance(url, str) or not url:
            raise PaymentError("provider_error", "Mollie returned no checkout URL")
        expires = _when(payment.expires_at)
        return Link(
            provider_ref=str(payment.id),
            url=url,
            expires_at=min(expires, request.expires_at) if expires else request.expires_at,
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        """``id=tr_…`` only: the status is fetched later with the API key (never trusted)."""
        if len(body) > 1024:
            raise WebhookRejected("Mollie webhook: body too large")
        try:
            ids = parse_qs(body.decode("ascii"), strict_parsing=True).get("id", [])
        except (UnicodeDecodeError, ValueError):
            raise WebhookRejected("Mollie webhook: not a form body") from None
        if len(ids) != 1 or not PAYMENT_ID.match(ids[0]):
            raise WebhookRejected("Mollie webhook: no payment id")
        return [Notification(event_id="", provider_ref=ids[0], status=None, type="mollie.payment")]

    async def _get(self, provider_ref: str) -> MolliePayment:
        return await self._run(lambda c: c.payments.get(provider_ref))

    async def fetch_status(self, provider_ref: str) -> ProviderStatus:
        payment = await self._get(provider_ref)
        status = _STATUS.get(str(payment.status))
        if status is None:
            raise PaymentError("provider_error", f"Mollie: unknown status {payment.status!r}")
        captured = None
        if status == PAID:
            captured = money_of(payment.amount_captured) or money_of(payment.amount)
        return ProviderStatus(provider_ref, status, captured)

    async def refund(self, provider_ref: str, amount: Money, key: str) -> str:
        def call(client: Client) -> str:
            payment = client.payments.get(provider_ref)
            refund = payment.refunds.create({"amount": amount_json(amount)}, idempotency_key=key)
            return str(refund.id)

        return await self._run(call)

    async def capture(self, provider_ref: str, amount: Money) -> None:
        """Capture ``amount``; when it is less than the authorisation, release the rest."""

        def call(client: Client) -> None:
            payment = client.payments.get(provider_ref)
            payment.captures.create({"amount": amount_json(amount)})
            authorised = money_of(payment.amount)
            if authorised is not None and amount < authorised:
                client.payments.release_authorization(provider_ref)

        await self._run(call)

    async def release(self, provider_ref: str) -> None:
        await self._run(lambda c: c.payments.release_authorization(provider_ref))

    async def cancel_link(self, provider_ref: str) -> None:
        """Stop an open payment (``DELETE /payments/{id}``) when Mollie still allows it."""

        def call(client: Client) -> None:
            payment = client.payments.get(provider_ref)
            if payment.is_cancelable:
                client.payments.delete(provider_ref)

        await self._run(call)
