"""The shared channel conformance toolkit.

Every channel adapter's test package (``tests/channels/<name>/``) provides a ``spec.py`` with
``SPECS: list[AdapterSpec]``; ``tests/contract/test_channel_conformance.py`` runs the same checks
over all of them: manifest, signature verification (accept the real thing, reject tampering),
parsing a real recorded payload, rendering every neutral content type into requests the
provider's API accepts (asserted at the HTTP transport), and error classification.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from toonbank.channels.base import ChannelAdapter, Connection, InboundRequest
from toonbank.channels.content import (
    ContactCard,
    Content,
    LineItem,
    ListPicker,
    ListSection,
    Location,
    Media,
    Option,
    OrderSummary,
    PaymentLink,
    Product,
    ProductCard,
    ProductCarousel,
    QuickReplies,
    Template,
    Text,
)

REPO = Path(__file__).resolve().parents[2]
PAYLOADS = REPO.parent / "shared" / "reference" / "payloads"


def reference_payload(name: str) -> bytes:
    """A real recorded provider payload from ``../shared/reference/payloads``."""
    return (PAYLOADS / name).read_bytes()


def signature_vectors() -> dict[str, Any]:
    import json

    return dict(json.loads(reference_payload("signature_test_vectors.json")))


def request(
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    url: str = "https://toonbank.test/webhooks/conn",
    method: str = "POST",
    query: dict[str, str] | None = None,
) -> InboundRequest:
    return InboundRequest(
        method=method,
        url=url,
        headers={k.lower(): v for k, v in (headers or {}).items()},
        query=query or {},
        body=body,
    )


def connection(
    type: str,
    secrets: dict[str, Any],
    settings: dict[str, Any] | None = None,
    api_base_url: str = "https://provider.test",
) -> Connection:
    return Connection(
        id="conn-test",
        workspace_id="ws-test",
        type=type,
        name=f"{type} test",
        api_base_url=api_base_url,
        settings=settings or {},
        secrets=secrets,
    )


PRODUCT = Product(
    id="sku-1",
    title="Linen blazer",
    price=12950,
    currency="EUR",
    image_url="https://shop.test/img/blazer.jpg",
    url="https://shop.test/p/blazer",
    subtitle="Navy, size 50",
    buttons=[Option(title="Add to cart", payload="cart:add:sku-1")],
)

SAMPLES: list[Content] = [
    Text(text="Hello! How can I help?"),
    Media(kind="image", url="https://shop.test/img/blazer.jpg", caption="The navy one"),
    Media(kind="file", url="https://shop.test/docs/invoice.pdf", filename="invoice.pdf"),
    Location(latitude=52.3702, longitude=4.8952, name="Store Amsterdam", address="Kalverstraat 1"),
    ContactCard(name="Toonbank Service", phones=["+31201234567"], emails=["help@shop.test"]),
    QuickReplies(
        text="Which size?",
        options=[Option(title="M", payload="size:m"), Option(title="L", payload="size:l")],
    ),
    QuickReplies(
        text="Pick a colour",
        options=[Option(title=c, payload=f"colour:{c}") for c in ("Red", "Blue", "Green", "Black")],
    ),
    ListPicker(
        text="Choose a store",
        button="Stores",
        sections=[
            ListSection(
                title="Amsterdam",
                options=[
                    Option(title="Kalverstraat", payload="store:1", description="Open till 18:00"),
                    Option(title="Zuidas", payload="store:2"),
                ],
            )
        ],
    ),
    ProductCard(product=PRODUCT, text="You asked for a navy blazer in size 50"),
    ProductCarousel(
        text="Three options", products=[PRODUCT, PRODUCT.model_copy(update={"id": "sku-2"})]
    ),
    OrderSummary(
        kind="cart",
        currency="EUR",
        items=[LineItem(title="Linen blazer", quantity=1, unit_price=12950, product_id="sku-1")],
        shipping=495,
        total=13445,
    ),
    PaymentLink(url="https://pay.test/l/abc", amount=13445, currency="EUR", text="Your order"),
    Template(
        name="order_update",
        language="en",
        variables=["Ann", "TB-1001"],
        fallback_text="Hi {{1}}, your order {{2}} has shipped.",
    ),
]


@dataclass
class AdapterSpec:
    """How to exercise one adapter in the shared conformance suite."""

    adapter: ChannelAdapter
    connection: Connection
    sign: Callable[[bytes], InboundRequest]
    """Build a request for ``body`` signed exactly as the provider would sign it."""
    payloads: list[bytes]
    """Real recorded inbound payloads (at least one customer message)."""
    recipient: str
    ok_response: Callable[[httpx.Request], httpx.Response]
    """The provider's success answer to a send request."""
    rate_limited: Callable[[httpx.Request], httpx.Response] = field(
        default=lambda _r: httpx.Response(429, headers={"retry-after": "7"}, json={})
    )
    """The provider's rate-limit answer, asking to retry after 7 seconds."""
    signature_headers: tuple[str, ...] = ()
    """Headers carrying the signature (removing one must fail verification)."""
    body_signed: bool = True
    """False where the provider authenticates with a shared secret header only (Telegram):
    a changed body cannot be detected there, which is the provider's design."""
    send_probe: Content = SAMPLES[0]
    """A content item whose send reaches the provider's API (errors and rate limits are tested
    with it). Voice speaks text on the live call without a request, so it probes with a link."""
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or self.adapter.manifest.type


class Recorder:
    """An httpx transport that records requests and answers with a fixed handler."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))
