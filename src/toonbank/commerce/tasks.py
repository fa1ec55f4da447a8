"""The commerce work the worker runs periodically (its ``commerce`` stage): payment link
reminders and expiry (``payments/reminders.py``) and fulfilment webhook deliveries
(``fulfilment_delivery.py``). Each part is safe with several workers running it at once."""

from __future__ import annotations

from toonbank.commerce import fulfilment_delivery
from toonbank.commerce.payments import reminders
from toonbank.context import Context


async def run_due(ctx: Context) -> int:
    """Do what is due now; returns how much was done (0: idle)."""
    done = await reminders.remind_due(ctx)
    done += await reminders.expire_due(ctx)
    done += await fulfilment_delivery.deliver_due(ctx)
    return done
