"""Payment link lifetimes: one reminder before a link expires, then its expiry; each at most once.

Run by the worker's ``commerce`` stage (``commerce/tasks.py``). Several workers may sweep at the
same time:

- **Reminder.** A guarded ``UPDATE payments SET reminded_at = now WHERE id = … AND reminded_at
  IS NULL AND status = 'open'`` decides who sends; the message is queued in the same
  transaction, so a reminder is sent once or (rolled back) not at all. A link that lives no
  longer than the lead time (``payment_reminder_minutes``) gets no reminder (``reminded_at`` is
  set without sending, so it is not looked at again).
- **Expiry.** The payment row is re-read under a row lock (``FOR UPDATE`` on PostgreSQL; SQLite
  has one writer) and moved ``open → expired`` through ``service.stop_link``, which also stops
  the link at the provider (Stripe session expired, Mollie payment cancelled). A status only
  moves forward, so a second sweep changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from sqlalchemy import select, update

from toonbank.channels.content import PaymentLink
from toonbank.commerce import orders
from toonbank.commerce.money import Money
from toonbank.commerce.payments import service
from toonbank.commerce.payments.port import EXPIRED, OPEN
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import Order, Payment

BATCH: Final = 100
REMINDERS: Final[dict[str, str]] = {
    "en": "Reminder: your payment link for order {number} ({amount}) expires in {minutes} minutes.",
    "nl": "Herinnering: je betaallink voor bestelling {number} ({amount}) verloopt over "
    "{minutes} minuten.",
    "de": "Erinnerung: Ihr Zahlungslink für Bestellung {number} ({amount}) läuft in {minutes} "
    "Minuten ab.",
    "fr": "Rappel : votre lien de paiement pour la commande {number} ({amount}) expire dans "
    "{minutes} minutes.",
    "es": "Recordatorio: tu enlace de pago del pedido {number} ({amount}) caduca en {minutes} "
    "minutos.",
    "it": "Promemoria: il link di pagamento per l'ordine {number} ({amount}) scade tra "
    "{minutes} minuti.",
    "pt": "Lembrete: o link de pagamento da encomenda {number} ({amount}) expira dentro de "
    "{minutes} minutos.",
    "pl": "Przypomnienie: link do płatności za zamówienie {number} ({amount}) wygaśnie za "
    "{minutes} min.",
    "ro": "Reamintire: linkul de plată pentru comanda {number} ({amount}) expiră în {minutes} "
    "minute.",
}


def reminder_text(language: str | None, number: str, amount: Money, minutes: int) -> str:
    """The reminder in the customer's language (its primary subtag), English otherwise."""
    base = (language or "en").split("-")[0].lower()
    template = REMINDERS.get(base, REMINDERS["en"])
    return template.format(number=number, amount=amount, minutes=max(minutes, 1))


async def remind_due(ctx: Context) -> int:
    """Send the reminder of every open link that expires within the lead time; returns how
    many were sent or settled."""
    lead = timedelta(minutes=ctx.settings.payment_reminder_minutes)
    if not lead:
        return 0
    moment = now()
    async with ctx.db.uow() as uow:
        rows = await uow.session.execute(
            select(Payment)
            .where(
                Payment.status == OPEN,
                Payment.reminded_at.is_(None),
                Payment.expires_at.is_not(None),
                Payment.expires_at > moment,
                Payment.expires_at <= moment + lead,
            )
            .order_by(Payment.expires_at)
            .limit(BATCH)
        )
        handled = 0
        for payment in rows.scalars().all():
            claimed = await uow.session.execute(
                update(Payment)
                .where(
                    Payment.id == payment.id,
                    Payment.reminded_at.is_(None),
                    Payment.status == OPEN,
                )
                .values(reminded_at=moment)
                .returning(Payment.id)
            )
            if claimed.scalar_one_or_none() is None:
                continue  # another worker took it
            handled += 1
            assert payment.expires_at is not None
            if payment.created_at + lead >= payment.expires_at or not payment.url:
                continue  # a short link: no reminder
            order = await uow.session.get(Order, payment.order_id)
            if order is None or order.status != orders.PENDING:
                continue
            amount = Money(payment.amount_minor, payment.currency)
            minutes = int((payment.expires_at - moment).total_seconds() // 60)
            language = await orders.customer_language(uow.session, order)
            content = PaymentLink(
                url=payment.url,
                amount=amount.minor,
                currency=amount.currency,
                text=reminder_text(language, order.number, amount, minutes),
                expires_at=payment.expires_at.isoformat(),
            )
            if await orders.notify_customer(ctx, uow, order, content):
                orders.add_event(
                    uow.session, order, "payment_reminder", actor="system",
                    data={"payment_id": payment.id},
                )  # fmt: skip
    return handled


async def expire_due(ctx: Context) -> int:
    """Expire every open link whose time is up (at the provider too); returns how many."""
    async with ctx.db.session() as session:
        due = list(
            (
                await session.execute(
                    select(Payment.id)
                    .where(Payment.status == OPEN, Payment.expires_at <= now())
                    .order_by(Payment.expires_at)
                    .limit(BATCH)
                )
            ).scalars()
        )
    expired = 0
    for payment_id in due:
        async with ctx.db.uow() as uow:
            payment = await uow.session.scalar(
                select(Payment).where(Payment.id == payment_id).with_for_update()
            )
            if payment is None or payment.status != OPEN or not service.is_expired(payment):
                continue
            if await service.stop_link(ctx, uow, payment, EXPIRED, actor="system"):
                expired += 1
    return expired
