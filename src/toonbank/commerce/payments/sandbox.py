"""The built-in sandbox provider: a TEST MODE payment page served by Toonbank itself.

No money moves. The customer opens ``/pay/{token}`` (see ``payments/page.py``) and presses Pay
or Fail; the page reports that to the payment service as a provider webhook would. Refunds,
captures and releases are accepted as a real provider would accept them (the service checks
the amounts), so the whole flow, including "try at home" (authorise now, capture the kept items
later, release the rest), runs offline in the demo and in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from toonbank.commerce.money import Money
from toonbank.commerce.payments.port import (
    Link,
    LinkRequest,
    Notification,
    PaymentError,
    ProviderStatus,
)
from toonbank.kit.crypto import new_secret

PREFIX: Final = "sbx_"


class SandboxProvider:
    name = "sandbox"

    def __init__(self, public_url: str) -> None:
        self._base = public_url.rstrip("/")

    async def create_link(self, request: LinkRequest) -> Link:
        return Link(
            provider_ref=PREFIX + request.payment_id,
            url=f"{self._base}/pay/{request.token}",
            expires_at=request.expires_at,
        )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[Notification]:
        raise PaymentError("unsupported", "the sandbox reports through its own page")

    async def fetch_status(self, provider_ref: str) -> ProviderStatus:
        raise PaymentError("unsupported", "the sandbox's state is the payment record itself")

    async def refund(self, provider_ref: str, amount: Money, key: str) -> str:
        return "sbx_re_" + new_secret(8)

    async def capture(self, provider_ref: str, amount: Money) -> None:
        return None

    async def release(self, provider_ref: str) -> None:
        return None

    async def cancel_link(self, provider_ref: str) -> None:
        return None  # the page refuses anything but an open, unexpired payment
