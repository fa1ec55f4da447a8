"""Payments: create a link, record what providers report, refund, capture and release.

Never commits. Provider reports are applied monotonically: a payment only moves forward
(``open`` → ``authorized`` → ``paid``, or to ``failed``/``expired``/``canceled`` while not
paid), so a late or repeated webhook cannot undo a payment. The first payment that succeeds
moves its order to ``paid`` (and the customer hears so on their channel).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.channels.content import PaymentLink, Text
from toonbank.commerce import orders, reservations
from toonbank.commerce.money import Money
from toonbank.commerce.payments import ledger
from toonbank.commerce.payments.mollie_provider import MollieProvider
from toonbank.commerce.payments.port import (
    AUTHORIZED,
    CANCELED,
    EXPIRED,
    FAILED,
    FINAL,
    OPEN,
    PAID,
    Capture,
    LinkRequest,
    Notification,
    PaymentError,
    PaymentProvider,
)
from toonbank.commerce.payments.sandbox import SandboxProvider
from toonbank.commerce.payments.stripe_provider import StripeProvider
from toonbank.context import Context
from toonbank.db.uow import UnitOfWork
from toonbank.kit.clock import now
from toonbank.kit.crypto import new_secret
from toonbank.models import (
    Order,
    OrderLine,
    Payment,
    PaymentAccount,
    PaymentEvent,
    StockReservation,
)

log = structlog.get_logger(__name__)
DEFAULT_EXPIRY: Final = timedelta(hours=24)
_LIVE: Final = frozenset({OPEN, AUTHORIZED, PAID})
_RANK: Final = {OPEN: 0, AUTHORIZED: 1, PAID: 2, FAILED: 3, EXPIRED: 3, CANCELED: 3}


PROVIDERS: Final = ("sandbox", "stripe", "mollie")


async def account_for(session: AsyncSession, workspace_id: str, name: str) -> PaymentAccount:
    account = await session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.workspace_id == workspace_id,
            PaymentAccount.provider == name,
            PaymentAccount.active.is_(True),
        )
    )
    if account is None:
        raise PaymentError("unknown_provider", f"no payment provider {name!r} is configured")
    return account


def provider_of(ctx: Context, account: PaymentAccount) -> PaymentProvider:
    values = ctx.secret_box.open(account.secrets)
    if account.provider == "stripe":
        return StripeProvider(values["secret_key"], values["webhook_secret"])
    if account.provider == "mollie":
        return MollieProvider(values["api_key"])
    raise PaymentError("unknown_provider", f"no payment provider {account.provider!r}")


async def provider_for(
    ctx: Context, session: AsyncSession, workspace_id: str, name: str
) -> PaymentProvider:
    """The sandbox (always there) or the workspace's configured account at ``name``."""
    if name == "sandbox":
        return SandboxProvider(ctx.settings.public_url)
    return provider_of(ctx, await account_for(session, workspace_id, name))


async def handle_webhook(
    ctx: Context, uow: UnitOfWork, account: PaymentAccount, headers: Mapping[str, str],
    body: bytes,
) -> int:  # fmt: skip
    """Verify a provider webhook and apply it; returns how many payments changed.

    Each event is recorded once (``payment_events`` unique per provider and event id), so a
    redelivered event changes nothing. Unknown payments and other workspaces' payments are
    ignored."""
    provider = provider_of(ctx, account)
    changed = 0
    for note in await provider.parse_webhook(headers, body):
        payment = await uow.session.scalar(
            select(Payment).where(
                Payment.provider == account.provider,
                Payment.provider_ref == note.provider_ref,
                Payment.workspace_id == account.workspace_id,
            )
        )
        if payment is None:  # forged, another shop's, or not ours: nothing to fetch or change
            continue
        if await _apply_note(ctx, uow, provider, payment, note, actor=account.provider):
            changed += 1
    await uow.session.flush()
    return changed


async def _apply_note(
    ctx: Context, uow: UnitOfWork, provider: PaymentProvider, payment: Payment,
    note: Notification, *, actor: str,
) -> bool:  # fmt: skip
    """Record one notification once (``payment_events``) and apply the status it carries or,
    when it carries none, the status fetched from the provider."""
    status, captured = note.status, None
    if status is None:
        report = await provider.fetch_status(note.provider_ref)
        status, captured = report.status, report.amount_captured
    event_id = note.event_id or f"{note.provider_ref}:{status}"
    seen = await uow.session.scalar(
        select(PaymentEvent.id).where(
            PaymentEvent.provider == payment.provider, PaymentEvent.event_id == event_id[:255]
        )
    )
    if seen is not None:
        return False
    uow.session.add(
        PaymentEvent(
            workspace_id=payment.workspace_id,
            payment_id=payment.id,
            provider=payment.provider,
            event_id=event_id[:255],
            type=note.type[:64],
        )
    )
    return await apply_status(ctx, uow, payment, status, actor=actor, captured=captured)


async def refresh(ctx: Context, uow: UnitOfWork, payment: Payment) -> bool:
    """Ask the provider for the payment's state now (the customer is back from its page
    before its webhook arrived); recorded like a webhook, so the webhook then changes nothing."""
    if payment.provider == "sandbox" or payment.provider_ref is None:
        return False
    provider = await provider_for(ctx, uow.session, payment.workspace_id, payment.provider)
    note = Notification(event_id="", provider_ref=payment.provider_ref, type="return")
    return await _apply_note(ctx, uow, provider, payment, note, actor=payment.provider)


def payment_json(payment: Payment) -> dict[str, Any]:
    money = lambda minor: Money(minor, payment.currency).to_json()  # noqa: E731
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "provider": payment.provider,
        "status": payment.status,
        "capture": payment.capture,
        "amount": money(payment.amount_minor),
        "authorized": money(payment.authorized_minor),
        "captured": money(payment.captured_minor),
        "refunded": money(payment.refunded_minor),
        "url": payment.url,
        "expires_at": payment.expires_at.isoformat() if payment.expires_at else None,
    }


async def payments_of(session: AsyncSession, order: Order) -> list[Payment]:
    rows = await session.execute(
        select(Payment)
        .where(Payment.order_id == order.id, Payment.workspace_id == order.workspace_id)
        .order_by(Payment.created_at, Payment.id)
    )
    return list(rows.scalars())


async def by_token(session: AsyncSession, token: str) -> Payment | None:
    if not token or len(token) > 64:
        return None
    return await session.scalar(select(Payment).where(Payment.token == token))


async def create_payment(
    ctx: Context,
    uow: UnitOfWork,
    order: Order,
    *,
    provider: str = "sandbox",
    capture: Capture = "automatic",
    expires_in: timedelta = DEFAULT_EXPIRY,
    send: bool = True,
) -> Payment:
    """A payment link for the order's total; ``send`` puts it in the customer's conversation."""
    if order.status != orders.PENDING:
        raise PaymentError("invalid_state", f"the order is {order.status}, not pending")
    earlier_payments = await payments_of(uow.session, order)
    for earlier in earlier_payments:
        if earlier.status == OPEN:  # one live link at a time: the old one stops working
            earlier.status = CANCELED  # (stopped at the provider below, stock kept)
            earlier.updated_at = now()
            await _stop_at_provider(ctx, uow, earlier)
    await _hold_again(uow, order)
    amount = Money(order.total_minor, order.currency)
    payment = Payment(
        workspace_id=order.workspace_id,
        order_id=order.id,
        provider=provider,
        token=new_secret(24),
        status=OPEN,
        capture=capture,
        amount_minor=amount.minor,
        currency=amount.currency,
        authorized_minor=0,
        captured_minor=0,
        refunded_minor=0,
        expires_at=now() + expires_in,
    )
    uow.session.add(payment)
    await uow.session.flush()
    base = ctx.settings.public_url.rstrip("/")
    webhook_url = f"{base}/webhooks/payments/{provider}"
    if provider == "sandbox":
        gateway: PaymentProvider = SandboxProvider(ctx.settings.public_url)
    else:
        account = await account_for(uow.session, order.workspace_id, provider)
        gateway = provider_of(ctx, account)
        webhook_url = f"{webhook_url}/{account.id}"
    link = await gateway.create_link(
        LinkRequest(
            payment_id=payment.id,
            token=payment.token,
            reference=order.number,
            amount=amount,
            description=f"Order {order.number}",
            return_url=f"{base}/pay/{payment.token}/done",
            webhook_url=webhook_url,
            expires_at=payment.expires_at or now() + expires_in,
            capture=capture,
        )
    )
    payment.provider_ref, payment.url = link.provider_ref, link.url
    payment.expires_at = link.expires_at or payment.expires_at
    orders.add_event(
        uow.session,
        order,
        "payment_link",
        actor="system",
        data={"payment_id": payment.id, "provider": provider, "capture": capture},
    )
    await uow.session.flush()
    if send:
        content = PaymentLink(
            url=link.url,
            amount=amount.minor,
            currency=amount.currency,
            text=f"Order {order.number}: {amount}",
            expires_at=payment.expires_at.isoformat() if payment.expires_at else None,
        )
        await orders.notify_customer(ctx, uow, order, content)
    return payment


def is_expired(payment: Payment) -> bool:
    return payment.expires_at is not None and payment.expires_at <= now()


async def apply_status(
    ctx: Context,
    uow: UnitOfWork,
    payment: Payment,
    status: str,
    *,
    actor: str,
    captured: Money | None = None,
) -> bool:
    """Record a provider-reported ``status`` (never backwards); True when it changed."""
    if status not in _RANK:
        raise PaymentError("invalid_status", f"unknown payment status {status!r}")
    current = payment.status
    # A link we stopped (expired, replaced) that the customer still paid at the provider:
    # the money moved, so the provider's word wins.
    late = current in (EXPIRED, CANCELED) and status in (AUTHORIZED, PAID)
    late = late and payment.provider != "sandbox"
    if current == status or (not late and (current in FINAL or _RANK[status] < _RANK[current])):
        return False
    order = await uow.session.get(Order, payment.order_id)
    assert order is not None
    payment.status = status
    payment.updated_at = now()
    if status == AUTHORIZED:
        payment.authorized_minor = payment.amount_minor
    if status == PAID:
        payment.captured_minor = captured.minor if captured is not None else payment.amount_minor
        if payment.capture == "manual":
            payment.authorized_minor = payment.amount_minor
    orders.add_event(
        uow.session,
        order,
        "payment",
        actor=actor,
        data={"payment_id": payment.id, "from": current, "to": status},
    )
    if status in (FAILED, EXPIRED, CANCELED) and order.status == orders.PENDING:
        live = [p for p in await payments_of(uow.session, order) if p.status in _LIVE]
        if not live:  # no live payment left: the stock goes back (a new link holds it again)
            await reservations.release_order(uow.session, order.workspace_id, order.id)
    if status in (AUTHORIZED, PAID) and order.status == orders.PENDING:
        note = "guarantee authorised; captured later" if status == AUTHORIZED else None
        await orders.change_status(ctx, uow, order, orders.PAID, actor=actor, note=note)
    if status in (AUTHORIZED, PAID):  # paid through one link: the others stop working
        for other in await payments_of(uow.session, order):
            if other.id != payment.id and other.status == OPEN:
                await stop_link(ctx, uow, other, CANCELED, actor="system")
    await uow.session.flush()
    return True


async def refund(
    ctx: Context, uow: UnitOfWork, order: Order, amount: Money | None, *, actor: str
) -> Money:
    """Refund ``amount`` (None: everything not yet refunded) over the order's captured
    payments; the order becomes ``refunded`` once all of it is back."""
    payments = [p for p in await payments_of(uow.session, order) if p.captured_minor > 0]
    refundable = [p.captured_minor - p.refunded_minor for p in payments]
    wanted = amount.minor if amount is not None else sum(refundable)
    if amount is not None and amount.currency != order.currency:
        raise PaymentError("invalid_request", f"the order is in {order.currency}")
    try:
        parts = ledger.refund_plan(refundable, wanted)
    except ledger.LedgerError:
        left = Money(max(sum(refundable), 0), order.currency)
        raise PaymentError("invalid_amount", f"{left} can be refunded") from None
    for payment, part in zip(payments, parts, strict=True):
        if part <= 0:
            continue
        assert payment.provider_ref is not None
        gateway = await provider_for(ctx, uow.session, order.workspace_id, payment.provider)
        # The same request state gives the same key: a retry after a lost answer (or a
        # rolled-back commit) is deduplicated by the provider instead of refunding twice.
        key = f"toonbank-refund-{payment.id}-{payment.refunded_minor}-{part}"
        ref = await gateway.refund(payment.provider_ref, Money(part, order.currency), key)
        payment.refunded_minor += part
        payment.updated_at = now()
        orders.add_event(
            uow.session,
            order,
            "refund",
            actor=actor,
            data={"payment_id": payment.id, "refund": ref,
                  "amount": Money(part, order.currency).to_json()},
        )  # fmt: skip
    order.refunded_minor += wanted
    order.updated_at = now()
    refunded = Money(wanted, order.currency)
    captured_total = sum(p.captured_minor for p in payments)
    if (
        order.refunded_minor >= captured_total
        and orders.REFUNDED in orders.TRANSITIONS[order.status]
    ):
        await orders.change_status(ctx, uow, order, orders.REFUNDED, actor=actor)
    else:
        await orders.emit(ctx, uow, order, "order.partially_refunded")
        await orders.notify_customer(
            ctx, uow, order, Text(text=f"We refunded {refunded} for order {order.number}.")
        )
    await uow.session.flush()
    return refunded


async def capture_kept(
    ctx: Context, uow: UnitOfWork, order: Order, kept: dict[str, int], *, actor: str
) -> Money:
    """ "Try at home": capture what the customer keeps (``{variant_id: quantity}``), release
    the rest of the authorisation. Kept lines count at their discounted price; shipping is
    charged when anything is kept."""
    payment = next(
        (p for p in await payments_of(uow.session, order) if p.status == AUTHORIZED), None
    )
    if payment is None:
        raise PaymentError("invalid_state", "no authorised payment to capture")
    lines = (
        await uow.session.execute(
            select(OrderLine).where(
                OrderLine.order_id == order.id, OrderLine.workspace_id == order.workspace_id
            )
        )
    ).scalars()
    by_variant = {line.variant_id: line for line in lines if line.variant_id}
    unknown = set(kept) - set(by_variant)
    if unknown:
        raise PaymentError("invalid_request", "kept items must be lines of this order")
    for variant_id, quantity in kept.items():
        line = by_variant[variant_id]
        if not 0 <= quantity <= line.quantity:
            raise PaymentError("invalid_request", f"{line.title}: 0 to {line.quantity} kept")
    amount = ledger.kept_amount(
        [(by_variant[v].total_minor, by_variant[v].quantity, q) for v, q in kept.items()],
        order.shipping_minor,
        payment.authorized_minor,
        order.currency,
    )
    provider = await provider_for(ctx, uow.session, order.workspace_id, payment.provider)
    assert payment.provider_ref is not None
    if amount.minor:  # a partial capture releases the rest of the authorisation
        await provider.capture(payment.provider_ref, amount)
    else:
        await provider.release(payment.provider_ref)
    released = payment.authorized_minor - amount.minor
    payment.captured_minor = amount.minor
    payment.status = PAID if amount.minor else CANCELED
    payment.updated_at = now()
    orders.add_event(
        uow.session,
        order,
        "capture",
        actor=actor,
        data={"payment_id": payment.id, "captured": amount.to_json(),
              "released": Money(released, order.currency).to_json(), "kept": kept},
    )  # fmt: skip
    order.refunded_minor = 0
    if not amount.minor:
        target = orders.CANCELLED if order.status in (orders.PAID, orders.FULFILLED) else None
        target = target or (orders.RETURNED if order.status in (orders.SHIPPED, orders.DELIVERED)
                            else None)  # fmt: skip
        if target:
            await orders.change_status(ctx, uow, order, target, actor=actor, note="nothing kept")
    else:
        await orders.notify_customer(
            ctx,
            uow,
            order,
            Text(text=f"Order {order.number}: we charged {amount} for what you kept."),
        )
    await uow.session.flush()
    return amount


async def expire_if_due(ctx: Context, uow: UnitOfWork, payment: Payment) -> bool:
    if payment.status == OPEN and is_expired(payment):
        return await stop_link(ctx, uow, payment, EXPIRED, actor="system")
    return False


async def stop_link(
    ctx: Context, uow: UnitOfWork, payment: Payment, status: str, *, actor: str
) -> bool:
    """Expire or cancel an open link: the provider stops its page, then the status is recorded.

    Best effort at the provider: when it cannot be reached the link is still stopped here, and
    a payment the customer makes on it anyway is recorded when reported (see ``apply_status``).
    """
    if payment.status != OPEN:
        return False
    await _stop_at_provider(ctx, uow, payment)
    return await apply_status(ctx, uow, payment, status, actor=actor)


async def _stop_at_provider(ctx: Context, uow: UnitOfWork, payment: Payment) -> None:
    if payment.provider == "sandbox" or not payment.provider_ref:
        return
    try:
        gateway = await provider_for(ctx, uow.session, payment.workspace_id, payment.provider)
        await gateway.cancel_link(payment.provider_ref)
    except PaymentError as exc:
        log.warning("payment_link_stop_failed", payment_id=payment.id, code=exc.code)


async def _hold_again(uow: UnitOfWork, order: Order) -> None:
    """A new link for an order whose stock went back (its last link failed or expired) holds
    the stock again, or is refused when it is gone."""
    session = uow.session
    if await reservations.held_for(session, order.workspace_id, order.id):
        return
    had = await session.scalar(
        select(StockReservation.id)
        .where(
            StockReservation.workspace_id == order.workspace_id,
            StockReservation.order_id == order.id,
        )
        .limit(1)
    )
    if had is None:
        return  # nothing was ever held (untracked stock)
    lines = (
        await session.execute(
            select(OrderLine).where(
                OrderLine.order_id == order.id, OrderLine.workspace_id == order.workspace_id
            )
        )
    ).scalars()
    wanted = [(x.variant_id, x.quantity) for x in lines if x.variant_id]
    try:
        holds = await reservations.hold(session, order.workspace_id, wanted)
    except reservations.OutOfStock as exc:
        raise PaymentError("out_of_stock", f"no longer in stock: {exc}") from None
    reservations.record(session, order.workspace_id, order.id, holds)


__all__ = [
    "AUTHORIZED",
    "CANCELED",
    "EXPIRED",
    "FAILED",
    "OPEN",
    "PAID",
    "apply_status",
    "by_token",
    "capture_kept",
    "create_payment",
    "payment_json",
    "payments_of",
    "refund",
]
