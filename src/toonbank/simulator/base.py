"""What every simulated provider shares: accounts, records, faults and webhooks to post.

A provider simulator (one subclass of :class:`Provider` per messaging provider) plays both sides
of the provider: its *send API* (the endpoints a channel adapter calls, answering with the
provider's real success and error bodies) and its *webhooks* (customer messages and delivery
receipts, signed the way the provider signs them). :mod:`toonbank.simulator.core` ties the
providers together into one loopback server.
"""

from __future__ import annotations

import base64
import json
import random
import string
import struct
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from toonbank.simulator.core import ProviderSimulator

FaultKind = Literal[
    "rate_limited", "server_error", "timeout", "window_closed", "opted_out", "invalid_recipient"
]
FAULT_KINDS: tuple[str, ...] = (
    "rate_limited",
    "server_error",
    "timeout",
    "window_closed",
    "opted_out",
    "invalid_recipient",
)
Phase = Literal["send", "receipt"]


@dataclass
class Fault:
    """A failure to inject, once (or ``times`` times), into matching sends.

    ``on="send"``: the send call itself fails with the provider's real error answer (a 429 with
    its retry hint, a 5xx, a window-closed or opted-out error, or no answer for ``delay``
    seconds when ``kind="timeout"``). ``on="receipt"``: the send is accepted, then a *failed*
    delivery receipt with the provider's error code follows (only where the provider reports
    failures that way). ``provider``/``recipient`` narrow what it applies to (None: any).
    """

    kind: str
    provider: str | None = None
    recipient: str | None = None
    times: int = 1
    on: str = "send"
    retry_after: float | None = None
    """The provider's retry hint in seconds (Telegram ``retry_after``, a ``Retry-After``)."""
    delay: float = 10.0
    """For ``timeout``: how long the answer takes (longer than the client waits)."""
    status: int | None = None
    """For ``server_error``: the HTTP status (default 500, or what the provider answers)."""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.on not in ("send", "receipt"):
            raise ValueError("a fault applies on 'send' or 'receipt'")
        if self.times < 1:
            raise ValueError("times must be at least 1")

    def matches(self, provider: str, recipient: str | None, phase: str) -> bool:
        return (
            self.on == phase
            and self.provider in (None, provider)
            and (self.recipient is None or self.recipient == recipient)
        )


@dataclass(frozen=True, slots=True)
class Choice:
    """One option the customer can pick: its title and what the provider sends back."""

    title: str
    value: str


@dataclass
class Sent:
    """A message the provider accepted from the business (what the customer's phone shows)."""

    provider: str
    account: str
    recipient: str
    message_id: str
    kind: str
    """text, buttons, list, media, location, contact, card or template."""
    text: str | None
    options: list[Choice]
    body: dict[str, Any]
    """The request as received (JSON body, or the form fields for Twilio)."""
    at: float = field(default_factory=time.time)
    context: dict[str, Any] = field(default_factory=dict)
    """Provider details the customer's answer needs (a Telegram message id, Viber
    ``tracking_data``, a Twilio ``StatusCallback``)."""


@dataclass
class Call:
    """One request to a send API (accepted, refused or faulted)."""

    provider: str
    endpoint: str
    status: int
    outcome: str
    """accepted, a fault kind, unauthorized, invalid or not_found."""
    recipient: str | None = None
    account: str | None = None
    at: float = field(default_factory=time.time)


@dataclass
class Webhook:
    """A request the simulator makes to the business (message, receipt or handshake)."""

    url: str
    body: bytes
    headers: dict[str, str]
    kind: str = "message"
    method: str = "POST"


@dataclass
class Posted:
    """A webhook the simulator posted and what the business answered."""

    provider: str
    kind: str
    url: str
    status: int | None
    answer: bytes
    at: float = field(default_factory=time.time)


@dataclass
class Account:
    """One business account at the provider: the credentials a connection is configured with."""

    provider: str
    key: str
    """What identifies the account in API calls (phone number id, token, account SID, ...)."""
    settings: dict[str, str]
    """The connection's settings (``toonbank channels add TYPE --set key=value ...``)."""
    api_base: str = ""
    webhook_url: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    """Provider details that are not connection settings (WABA id, bot id, issued tokens)."""


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A file a customer sent; the provider serves it back where its API lets you fetch it."""

    id: str
    data: bytes
    mime_type: str
    filename: str
    kind: str = "image"


class Refusal(Exception):
    """The provider refuses a request (auth, validation): answer ``response``."""

    def __init__(self, response: Response, outcome: str = "invalid") -> None:
        super().__init__(outcome)
        self.response = response
        self.outcome = outcome


class Rand:
    """Random ids and credentials; reproducible when seeded (stable demo credentials)."""

    def __init__(self, seed: str | None = None) -> None:
        self._rng: random.Random = random.Random(seed) if seed else random.SystemRandom()

    def digits(self, n: int, first: str = "123456789") -> str:
        return self._rng.choice(first) + "".join(self._rng.choices(string.digits, k=n - 1))

    def hex(self, n: int) -> str:
        return "".join(self._rng.choices("0123456789abcdef", k=n))

    def token(self, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self._rng.choices(alphabet, k=n))

    def bytes(self, n: int) -> bytes:
        return bytes(self._rng.getrandbits(8) for _ in range(n))

    def b64(self, n: int) -> str:
        return base64.b64encode(self.bytes(n)).decode()

    def integer(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)


def png(width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG (an RGBA square): what a customer's photo is in the simulator."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x2a\x80\xd0\xff" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def compact(data: Any, *, ascii_only: bool = True) -> bytes:
    """JSON as providers send it: compact; Meta escapes non-ASCII (``\\u00e4``), others not."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=ascii_only).encode()


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object body, or ``{}`` when it is not one."""
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


Handler = Callable[[Request], Awaitable[Response]]


class Provider(ABC):
    """One simulated provider: its send API routes, its webhooks and its error answers."""

    name: ClassVar[str]
    """The Toonbank channel type this provider serves."""
    title: ClassVar[str]
    send_faults: ClassVar[frozenset[str]]
    receipt_faults: ClassVar[frozenset[str]] = frozenset()
    sends_receipts: ClassVar[bool] = True

    def __init__(self, sim: ProviderSimulator) -> None:
        self.sim = sim

    # -- accounts and customers ----------------------------------------------------------------

    @abstractmethod
    def new_account(self, rand: Rand) -> Account:
        """Fresh credentials (the account's ``settings`` configure a connection)."""

    @abstractmethod
    def new_customer(self, rand: Rand, **options: Any) -> str:
        """A new customer address on this provider (what Toonbank sees as the sender)."""

    # -- the send API --------------------------------------------------------------------------

    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The provider's API endpoints, mounted under ``/{name}``."""

    @abstractmethod
    def fault_response(self, fault: Fault) -> Response:
        """The provider's real answer for an injected send fault."""

    def malformed(self, detail: str) -> Response:
        """The provider's answer to a request body it cannot read."""
        return JSONResponse({"error": "bad request", "detail": detail}, status_code=400)

    def endpoint(self, name: str, handler: Handler) -> Handler:
        """Wrap a handler: refusals become their answer, every call is recorded."""

        async def run(request: Request) -> Response:
            request.state.outcome = "accepted"
            request.state.recipient = None
            request.state.account = None
            try:
                response = await handler(request)
            except Refusal as refusal:
                request.state.outcome = refusal.outcome
                response = refusal.response
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                # A body the provider's validation would reject (a button without a title, a
                # string where an object belongs): its generic "bad request".
                request.state.outcome = "invalid"
                response = self.malformed(f"{type(exc).__name__}: {exc}"[:200])
            outcome = request.state.outcome
            if response.status_code >= 400 and outcome == "accepted":
                outcome = "invalid"
            self.sim.record_call(
                Call(
                    provider=self.name,
                    endpoint=name,
                    status=response.status_code,
                    outcome=outcome,
                    recipient=request.state.recipient,
                    account=request.state.account,
                )
            )
            return response

        return run

    # -- webhooks to the business --------------------------------------------------------------

    @abstractmethod
    def text(self, account: Account, customer: str, text: str) -> Webhook:
        """A customer's text message."""

    @abstractmethod
    def reply(self, account: Account, customer: str, sent: Sent, choice: Choice) -> Webhook:
        """The customer picks ``choice`` of the message ``sent`` (a button tap, a typed number)."""

    @abstractmethod
    def media(
        self, account: Account, customer: str, media: MediaFile, caption: str | None
    ) -> Webhook:
        """A customer's photo (or other file)."""

    def receipts(self, account: Account, sent: Sent, failure: Fault | None) -> list[Webhook]:
        """The delivery receipts for an accepted message, in order (a failed one for
        ``failure``). Providers without receipts send none."""
        return []

    async def verify_webhook(self, client: httpx.AsyncClient, account: Account) -> None:
        """The provider's check when a webhook URL is registered (raises on refusal)."""
        return None

    def media_url(self, path: str) -> str:
        """An absolute URL on the simulator under this provider's prefix."""
        return f"{self.sim.base_url}/{self.name}/{path.lstrip('/')}"


class WebhookRefused(RuntimeError):
    """The business refused a webhook (or its verification handshake)."""
