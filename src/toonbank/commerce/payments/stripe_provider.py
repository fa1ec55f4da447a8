"""Stripe through the official ``stripe`` SDK: Checkout Sessions, verified webhooks, refunds,
manual capture ("try at home").

Webhooks are verified with ``stripe.Webhook.construct_event`` (HMAC-SHA256 over the
timestamped body, default tolerance 300 s). A completed session does not say on its own whether
the money was captured or only authorised, so the service fetches the session (with its
PaymentIntent) from the API; this also makes out-of-order events harmless.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import stripe

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

# Tests point the SDK at a local fake server here (never settable through the API).
API_BASE: str | None = None
TOLERANCE: Final = 300
_EVENTS: Final[dict[str, str | None]] = {
    "checkout.session.completed": None,  # paid or authorised: fetch to know which
    "checkout.session.async_payment_succeeded": None,
    "checkout.session.async_payment_failed": FAILED,
    "checkout.session.expired": EXPIRED,
}


class StripeProvider:
    name = "stripe"

    def __init__(self, secret_key: str, webhook_secret: str) -> None:
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret

    @contextlib.asynccontextmanager
    async def _api(self) -> AsyncIterator[stripe.StripeClient]:
        """A client on aiohttp (the SDK's httpx client posts bodies in a deprecated way), closed
        after use."""
        options: dict[str, Any] = {}
        if API_BASE:
            options["base_addresses"] = {"api": API_BASE}
        http = stripe.AIOHTTPClient(timeout=20)
        try:
            yield stripe.StripeClient(
                self._secret_key, http_client=http, max_network_retries=2, **options
            )
        finally:
            await http.close_async()

    async def create_link(self, request: LinkRequest) -> Link:
        params: dict[str, Any] = {
            "mode": "payment",
            "client_reference_id": request.payment_id,
            "success_url": request.return_url,
            "cancel_url": request.return_url,
            "expires_at": int(request.expires_at.timestamp()),
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.amount.currency.lower(),
                        "unit_amount": request.amount.minor,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "metadata": {"toonbank_payment_id": request.payment_id, "order": request.reference},
            "payment_intent_data": {
                "capture_method": "manual" if request.capture == "manual" else "automatic",
                "metadata": {"toonbank_payment_id": request.payment_id},
            },
        }
        try:
            async with self._api() as api:
                session = await api.v1.checkout.sessions.create_async(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": f"toonbank-{request.payment_id}"},
                )
        except stripe.StripeError as exc:
            raise PaymentError("provider_error", f"Stripe: {exc.user_message or exc}") from None
        if not session.url:
            raise PaymentError("provider_error", "Stripe returned no checkout URL")
        return Link(
            provider_ref=session.id,
            url=session.url,
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        try:
            event = stripe.Webhook.construct_event(
                body, headers.get("stripe-signature"), self._webhook_secret, tolerance=TOLERANCE
            )
        except (ValueError, stripe.SignatureVerificationError) as exc:
            raise WebhookRejected(f"Stripe webhook: {exc}") from None
        if event.type not in _EVENTS:
            return []
        session_id = event.data.object.to_dict().get("id")
        if not isinstance(session_id, str):
            return []
        return [Notification(event.id, session_id, _EVENTS[event.type], event.type)]

    async def _intent(self, session_id: str) -> str:
        session = await self._retrieve(session_id)
        intent = session.payment_intent
        if intent is None:
            raise PaymentError("invalid_state", "the Stripe session has no payment yet")
        return intent if isinstance(intent, str) else intent.id

    async def _retrieve(self, session_id: str) -> stripe.checkout.Session:
        try:
            async with self._api() as api:
                return await api.v1.checkout.sessions.retrieve_async(
                    session_id, params={"expand": ["payment_intent"]}
                )
        except stripe.StripeError as exc:
            raise PaymentError("provider_error", f"Stripe: {exc.user_message or exc}") from None

    async def fetch_status(self, provider_ref: str) -> ProviderStatus:
        session = await self._retrieve(provider_ref)
        intent = session.payment_intent
        intent_status = intent.status if isinstance(intent, stripe.PaymentIntent) else None
        if session.status == "expired":
            status = EXPIRED
        elif session.payment_status == "paid" or intent_status == "succeeded":
            status = PAID
        elif intent_status == "requires_capture":
            status = AUTHORIZED
        elif intent_status == "canceled":
            status = CANCELED
        else:
            status = OPEN
        captured = None
        if isinstance(intent, stripe.PaymentIntent) and status == PAID:
            captured = Money(intent.amount_received, intent.currency.upper())
        return ProviderStatus(provider_ref, status, captured)

    async def refund(self, provider_ref: str, amount: Money, key: str) -> str:
        intent = await self._intent(provider_ref)
        try:
            async with self._api() as api:
                refund = await api.v1.refunds.create_async(
                    params={"payment_intent": intent, "amount": amount.minor},
                    options={"idempotency_key": key},
                )
        except stripe.StripeError as exc:
            raise PaymentError("provider_error", f"Stripe: {exc.user_message or exc}") from None
        return refund.id

    async def capture(self, provider_ref: str, amount: Money) -> None:
        """Capture ``amount``; Stripe releases the rest of the authorisation by itself."""
        intent = await self._intent(provider_ref)
        try:
            async with self._api() as api:
                await api.v1.payment_intents.capture_async(
                    intent, params={"amount_to_capture": amount.minor}
                )
        except stripe.StripeError as exc:
            raise PaymentError("provider_error", f"Stripe: {exc.user_message or exc}") from None

    async def release(self, provider_ref: str) -> None:
        intent = await self._intent(provider_ref)
        try:
            async with self._api() as api:
                await api.v1.payment_intents.cancel_async(intent)
        except stripe.StripeError as exc:
            raise PaymentError("provider_error", f"Stripe: {exc.user_message or exc}") from None

    async def cancel_link(self, provider_ref: str) -> None:
        """Expire the Checkout Session so its page stops taking payments."""
        try:
            async with self._api() as api:
                session = await api.v1.checkout.sessions.retrieve_async(provider_ref)
                if session.status == "open":
                    await api.v1.checkout.sessions.expire_async(provider_ref)
        except stripe.StripeError as exc:
            raise PaymentError("provider_error", f"Stripe: {exc.user_message or exc}") from None
