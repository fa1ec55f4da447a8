"""One loopback server that plays every messaging provider Toonbank connects to.

Each provider is mounted under its own prefix, which is the ``api_base`` of a channel
connection pointed at the simulator (``http://127.0.0.1:8900/whatsapp``, ``…/telegram``, …).
The adapters call the same paths there as at the real provider; the simulator checks their
credentials, validates the bodies, records what it accepted (:attr:`ProviderSimulator.sent`)
and answers with the provider's real success and error bodies. It also plays the customer
(:class:`Customer`): it posts signed webhooks with text, button answers and photos, and signed
delivery receipts for what it accepted. Faults (:class:`~toonbank.simulator.base.Fault`) make
sends fail the way the provider fails.

Python API (tests, benchmarks)::

    sim = ProviderSimulator()
    with BackgroundServer(sim.app()) as server:
        sim.base_url = server.url
        account = sim.add_account("whatsapp")          # account.settings, account.api_base
        ...create the connection, then:
        await sim.set_webhook(account, webhook_url)     # runs the provider's handshake
        customer = sim.customer(account)
        await customer.says("hi")
        greeting, menu = await customer.wait_for(2)
        await customer.taps("Order status")

HTTP control API (the ``toonbank simulate`` demo):

- ``GET /_sim``: providers, their ``api_base`` and accounts;
- ``POST /_sim/{provider}/webhook`` ``{"url"}`` or ``{"connection_id"}``: register a webhook;
- ``POST /_sim/{provider}/customer`` ``{"text"}``, ``{"tap": title or number}`` or
  ``{"image": true}`` (optional ``"from"``, or ``"new": true`` for another customer);
- ``GET /_sim/{provider}/messages``, ``GET /_sim/calls``: what the business sent / called;
- ``POST /_sim/faults`` (one :class:`~toonbank.simulator.base.Fault` or a list),
  ``DELETE /_sim/faults``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from toonbank.simulator.base import (
    Account,
    Call,
    Choice,
    Fault,
    MediaFile,
    Posted,
    Provider,
    Rand,
    Sent,
    Webhook,
    WebhookRefused,
    json_object,
    png,
)

DEMO_SEED = "toonbank-simulator"
"""Seed of the demo accounts: ``toonbank simulate`` prints the same credentials every run."""


def provider_classes() -> list[type[Provider]]:
    from toonbank.simulator.line import Line
    from toonbank.simulator.meta import Instagram, Messenger, WhatsApp
    from toonbank.simulator.telegram import Telegram
    from toonbank.simulator.twilio import Twilio
    from toonbank.simulator.viber import Viber
    from toonbank.simulator.wechat import WeChat

    return [WhatsApp, Messenger, Instagram, Telegram, Twilio, WeChat, Line, Viber]


class ProviderSimulator:
    """The state of all simulated providers; :meth:`app` serves it (thread-safe records)."""

    def __init__(
        self,
        base_url: str = "",
        *,
        target: str | None = None,
        seed: str | None = None,
        receipt_delay: float = 0.05,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        """Where the simulator is reachable (set it once the server listens)."""
        self.target = target.rstrip("/") if target else None
        """Toonbank's public URL: ``{"connection_id": …}`` registers ``{target}/webhooks/…``."""
        self.receipt_delay = receipt_delay
        self.rand = Rand(seed)
        """Credentials (seeded: the same demo accounts every run)."""
        self.ids = Rand()
        """Message ids and customers: always random (a restart must not reuse ids)."""
        self.providers: dict[str, Provider] = {cls.name: cls(self) for cls in provider_classes()}
        self.accounts: dict[str, list[Account]] = {name: [] for name in self.providers}
        self.sent: list[Sent] = []
        self._sent_by_recipient: dict[tuple[str, str], list[Sent]] = {}
        self.calls: list[Call] = []
        self.posted: list[Posted] = []
        self.faults: list[Fault] = []
        self.media_files: dict[str, MediaFile] = {}
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the ASGI app --------------------------------------------------------------------------

    def app(self) -> Starlette:
        routes: list[Any] = [
            Route("/_sim", self._overview, methods=["GET"]),
            Route("/_sim/calls", self._calls, methods=["GET"]),
            Route("/_sim/faults", self._faults, methods=["POST", "DELETE"]),
            Route("/_sim/{provider}/webhook", self._webhook, methods=["POST"]),
            Route("/_sim/{provider}/customer", self._customer, methods=["POST"]),
            Route("/_sim/{provider}/messages", self._messages, methods=["GET"]),
        ]
        routes += [Mount(f"/{name}", routes=p.routes()) for name, p in self.providers.items()]
        return Starlette(routes=routes)

    # -- accounts ------------------------------------------------------------------------------

    def provider(self, name: str) -> Provider:
        try:
            return self.providers[name]
        except KeyError:
            known = ", ".join(self.providers)
            raise LookupError(f"unknown provider {name!r}; known: {known}") from None

    def add_account(self, provider: str, *, rand: Rand | None = None) -> Account:
        """A new account (fresh credentials) at ``provider``."""
        account = self.provider(provider).new_account(rand or self.rand)
        account.api_base = f"{self.base_url}/{provider}"
        with self._lock:
            self.accounts[provider].append(account)
        return account

    def account(self, provider: str, key: str | None = None) -> Account | None:
        """The account with ``key`` (or the first one) at ``provider``."""
        with self._lock:
            accounts = list(self.accounts.get(provider, []))
        for account in accounts:
            if key is None or account.key == key:
                return account
        return None

    def find_account(self, provider: str, match: Callable[[Account], bool]) -> Account | None:
        with self._lock:
            accounts = list(self.accounts.get(provider, []))
        return next((a for a in accounts if match(a)), None)

    async def set_webhook(self, account: Account, url: str) -> None:
        """Register the business's webhook URL and run the provider's verification, if any."""
        account.webhook_url = url
        async with httpx.AsyncClient(timeout=10) as client:
            await self.provider(account.provider).verify_webhook(client, account)

    # -- records -------------------------------------------------------------------------------

    def record_call(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def record_sent(self, sent: Sent) -> None:
        with self._lock:
            self.sent.append(sent)
            self._sent_by_recipient.setdefault((sent.provider, sent.recipient), []).append(sent)

    def sent_to(self, provider: str, recipient: str | None = None) -> list[Sent]:
        """What ``provider`` accepted (for ``recipient``), oldest first."""
        with self._lock:
            if recipient is not None:  # indexed: customers poll this (tests, benchmarks)
                return list(self._sent_by_recipient.get((provider, recipient), []))
            return [s for s in self.sent if s.provider == provider]

    def calls_for(self, provider: str, recipient: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.provider == provider and (recipient is None or c.recipient == recipient)
            ]

    def counter(self, account: Account, name: str, start: int = 1) -> int:
        """The next value of a per-account sequence (update ids, message ids per chat)."""
        with self._lock:
            counters = account.state.setdefault("counters", {})
            value = int(counters.get(name, start))
            counters[name] = value + 1
            return value

    def add_media(self, kind: str = "image") -> MediaFile:
        """A file a customer is about to send (a small PNG for images)."""
        media_id = self.ids.digits(16)
        if kind == "image":
            media = MediaFile(media_id, png(), "image/png", f"IMG_{media_id[:6]}.png", kind)
        else:
            data = b"%PDF-1.4\n% toonbank simulator\n"
            media = MediaFile(media_id, data, "application/pdf", f"doc_{media_id[:6]}.pdf", kind)
        with self._lock:
            self.media_files[media_id] = media
        return media

    def store_media(self, data: bytes, mime_type: str, filename: str) -> MediaFile:
        """A file a business uploaded (WhatsApp's ``POST /{phone_number_id}/media``)."""
        media_id = self.ids.digits(16)
        kind = "image" if mime_type.startswith("image/") else "file"
        media = MediaFile(media_id, data, mime_type, filename, kind)
        with self._lock:
            self.media_files[media_id] = media
        return media

    def media_file(self, media_id: str) -> MediaFile | None:
        with self._lock:
            return self.media_files.get(media_id)

    # -- faults --------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        """Queue a fault; raises ValueError when the provider cannot fail that way."""
        providers = [fault.provider] if fault.provider else list(self.providers)
        for name in providers:
            provider = self.provider(name)
            kinds = provider.send_faults if fault.on == "send" else provider.receipt_faults
            if fault.provider and fault.kind not in kinds:
                supported = ", ".join(sorted(kinds)) or "none"
                raise ValueError(
                    f"{name} has no {fault.kind!r} fault on {fault.on} (supported: {supported})"
                )
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail(self, provider: str, kind: str, **options: Any) -> Fault:
        """Shorthand: ``sim.fail("telegram", "rate_limited", retry_after=1)``."""
        return self.add_fault(Fault(kind=kind, provider=provider, **options))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def take_fault(self, provider: str, recipient: str | None, phase: str) -> Fault | None:
        """The first queued fault for this send (consumed once per use)."""
        with self._lock:
            for index, fault in enumerate(self.faults):
                kinds = (
                    self.providers[provider].send_faults
                    if phase == "send"
                    else self.providers[provider].receipt_faults
                )
                if fault.matches(provider, recipient, phase) and fault.kind in kinds:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self.faults[index]
                    return dataclasses.replace(fault, times=1)
        return None

    # -- accepting a send ----------------------------------------------------------------------

    async def deliver(
        self,
        provider: Provider,
        account: Account,
        recipient: str,
        request: Request,
        build: Callable[[], tuple[Sent, Response]],
    ) -> Response:
        """Fault injection, recording and receipts around one valid send request."""
        request.state.recipient = recipient
        request.state.account = account.key
        fault = self.take_fault(provider.name, recipient, "send")
        if fault is not None:
            request.state.outcome = fault.kind
            if fault.kind == "timeout":
                await asyncio.sleep(fault.delay)  # the client gave up long ago
                return provider.fault_response(
                    dataclasses.replace(fault, kind="server_error", status=fault.status or 504)
                )
            return provider.fault_response(fault)
        sent, response = build()
        self.record_sent(sent)
        failure = self.take_fault(provider.name, recipient, "receipt")
        hooks = [hook for hook in provider.receipts(account, sent, failure) if hook.url]
        if hooks:
            self.spawn(self._post_in_order(provider.name, hooks))
        return response

    def spawn(self, job: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post_in_order(self, provider: str, hooks: list[Webhook]) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for hook in hooks:
                await asyncio.sleep(self.receipt_delay)
                await self.post(provider, hook, client=client)

    # -- posting webhooks ----------------------------------------------------------------------

    async def post(
        self, provider: str, hook: Webhook, *, client: httpx.AsyncClient | None = None
    ) -> Posted:
        """Send a webhook to the business and record the answer (never raises)."""
        if client is None:
            async with httpx.AsyncClient(timeout=10) as own:
                return await self.post(provider, hook, client=own)
        try:
            response = await client.request(
                hook.method, hook.url, content=hook.body or None, headers=hook.headers
            )
            posted = Posted(provider, hook.kind, hook.url, response.status_code, response.content)
        except httpx.HTTPError as exc:
            posted = Posted(provider, hook.kind, hook.url, None, str(exc).encode())
        with self._lock:
            self.posted.append(posted)
        return posted

    def posted_for(self, provider: str, kind: str | None = None) -> list[Posted]:
        with self._lock:
            return [
                p
                for p in self.posted
                if p.provider == provider and (kind is None or p.kind == kind)
            ]

    # -- customers -----------------------------------------------------------------------------

    def customer(
        self, account: Account, address: str | None = None, name: str | None = None, **options: Any
    ) -> Customer:
        """A customer of ``account`` (a new random one unless ``address`` is given)."""
        provider = self.provider(account.provider)
        address = address or provider.new_customer(self.ids, **options)
        return Customer(self, account, address, name or f"Sim Customer {address[-4:]}")

    # -- HTTP control API ----------------------------------------------------------------------

    async def _overview(self, _request: Request) -> Response:
        data: dict[str, Any] = {}
        for name, provider in self.providers.items():
            with self._lock:
                accounts = list(self.accounts[name])
            data[name] = {
                "title": provider.title,
                "api_base": f"{self.base_url}/{name}",
                "accounts": [
                    {"key": a.key, "settings": a.settings, "webhook_url": a.webhook_url}
                    for a in accounts
                ],
            }
        return JSONResponse({"providers": data})

    def _account_of(self, provider: str, data: dict[str, Any]) -> Account:
        account = self.account(provider, data.get("account"))
        if account is None:
            raise LookupError(f"no {provider} account {data.get('account') or ''}".strip())
        return account

    async def _webhook(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        data = await json_object(request)
        try:
            account = self._account_of(provider, data)
            url = data.get("url")
            if not url and data.get("connection_id") and self.target:
                url = f"{self.target}/webhooks/{data['connection_id']}"
            if not isinstance(url, str) or not url:
                return JSONResponse({"error": "give 'url' (or 'connection_id' with --target)"}, 400)
            await self.set_webhook(account, url)
        except LookupError as exc:
            return JSONResponse({"error": str(exc)}, 404)
        except (WebhookRefused, httpx.HTTPError) as exc:
            return JSONResponse({"error": f"webhook verification failed: {exc}"}, 502)
        return JSONResponse({"account": account.key, "webhook_url": url})

    async def _customer(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        data = await json_object(request)
        try:
            account = self._account_of(provider, data)
            if not account.webhook_url:
                return JSONResponse({"error": f"register the {provider} webhook first"}, 409)
            # Without "from", the same customer as last time (a new one with "new": true).
            remembered = None if data.get("new") else account.state.get("customer")
            who = self.customer(account, data.get("from") or remembered)
            account.state["customer"] = who.address
            if data.get("tap") is not None:
                posted = await who.taps(data["tap"], check=False)
            elif data.get("image"):
                posted, _media = await who.sends_image(data.get("caption"), check=False)
            else:
                posted = await who.says(str(data.get("text") or "hi"), check=False)
        except LookupError as exc:
            return JSONResponse({"error": str(exc)}, 404)
        return JSONResponse(
            {"customer": who.address, "status": posted.status, "answer": posted.answer.decode()}
        )

    async def _messages(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        recipient = request.query_params.get("to")
        items = [
            {
                "to": s.recipient,
                "id": s.message_id,
                "kind": s.kind,
                "text": s.text,
                "options": [c.title for c in s.options],
                "at": s.at,
            }
            for s in self.sent_to(provider, recipient)
        ]
        return JSONResponse({"messages": items})

    async def _calls(self, _request: Request) -> Response:
        with self._lock:
            calls = [dataclasses.asdict(c) for c in self.calls]
        return JSONResponse({"calls": calls})

    async def _faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_faults()
            return JSONResponse({"queued": 0})
        try:
            data = json.loads(await request.body())
            items = data if isinstance(data, list) else [data]
            for item in items:
                self.add_fault(Fault(**item))
        except (TypeError, ValueError, LookupError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        with self._lock:
            return JSONResponse({"queued": len(self.faults)})


class Customer:
    """A customer's phone: sends messages to the business and shows what it received."""

    def __init__(self, sim: ProviderSimulator, account: Account, address: str, name: str) -> None:
        self.sim = sim
        self.account = account
        self.address = address
        self.name = name
        self.provider = sim.provider(account.provider)

    async def _post(self, hook: Webhook, check: bool) -> Posted:
        posted = await self.sim.post(self.provider.name, hook)
        if check and (posted.status is None or posted.status >= 300):
            raise WebhookRefused(
                f"{self.provider.name} {hook.kind} webhook got {posted.status}: "
                f"{posted.answer[:300]!r}"
            )
        return posted

    def _url(self) -> None:
        if not self.account.webhook_url:
            raise LookupError(f"the {self.provider.name} account has no webhook URL yet")

    async def says(self, text: str, *, check: bool = True) -> Posted:
        """Send a text message."""
        self._url()
        return await self._post(self.provider.text(self.account, self.address, text), check)

    async def sends_image(
        self, caption: str | None = None, *, check: bool = True
    ) -> tuple[Posted, MediaFile]:
        """Send a photo (served back by the provider's media API)."""
        self._url()
        media = self.sim.add_media("image")
        hook = self.provider.media(self.account, self.address, media, caption)
        return await self._post(hook, check), media

    def inbox(self) -> list[Sent]:
        """Everything the business sent this customer, oldest first."""
        return [
            s
            for s in self.sim.sent_to(self.provider.name, self.address)
            if s.account == self.account.key
        ]

    def last_with_options(self) -> Sent:
        for sent in reversed(self.inbox()):
            if sent.options:
                return sent
        raise LookupError("the business has not offered any options to this customer")

    async def taps(
        self, choice: str | int, *, message: Sent | None = None, check: bool = True
    ) -> Posted:
        """Pick an option (by title, or 1-based number) of the latest message offering some."""
        self._url()
        sent = message or self.last_with_options()
        picked = _pick(sent.options, choice)
        hook = self.provider.reply(self.account, self.address, sent, picked)
        return await self._post(hook, check)

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[Sent]:
        """Wait until the customer has received at least ``count`` messages."""
        deadline = time.monotonic() + timeout
        while True:
            inbox = self.inbox()
            if len(inbox) >= count:
                return inbox
            if time.monotonic() > deadline:
                texts = [s.text for s in inbox]
                raise TimeoutError(f"received {len(inbox)} of {count} messages: {texts}")
            await asyncio.sleep(0.02)


def _pick(options: list[Choice], choice: str | int) -> Choice:
    if isinstance(choice, int) or (isinstance(choice, str) and choice.isdigit()):
        index = int(choice) - 1
        if 0 <= index < len(options):
            return options[index]
        raise LookupError(f"there is no option {choice} (of {len(options)})")
    for option in options:
        if option.title.casefold() == choice.casefold():
            return option
    titles = ", ".join(o.title for o in options)
    raise LookupError(f"no option titled {choice!r} (offered: {titles})")
