"""A whole conversation through every channel, against the provider simulator.

The app is served on a real loopback port with its pipeline worker running; the simulator plays
each provider: it posts signed customer webhooks (text, a button answer, a photo), receives the
replies at the provider's send API in the provider's format, answers with the provider's real
bodies, posts signed delivery receipts, and fails sends the provider's way when told to.
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.simulator import connect

from toonbank.context import Context
from toonbank.models import DeliveryAttempt, Message
from toonbank.simulator.base import Account
from toonbank.simulator.core import Customer, ProviderSimulator

MENU = ["Browse products", "Order status", "Talk to a person"]
GREETING = "Hi! I'm the Toonbank demo assistant (an automated bot). How can I help?"


@dataclass(frozen=True)
class Case:
    """How one channel behaves in the conversation (what its provider really does)."""

    channel: str
    menu_kind: str
    """How the menu arrives: native buttons, or numbered text (SMS)."""
    chosen: str
    """The bot's answer to the button tap."""
    receipts: str
    """The final status of a sent message once the provider's receipts are in."""
    retry_fault: dict[str, Any]
    retry_code: str
    permanent_fault: dict[str, Any]
    permanent_code: str
    receipt_failure: tuple[str, str | None] | None = None
    """(fault kind, resulting error code) of a failed delivery receipt, where the provider
    reports failures that way."""
    customer: dict[str, Any] = field(default_factory=dict)
    tap: str = "reply"
    """How the tap is stored: a reply (button payload), or the typed text the bot maps back."""
    message_ids: bool = True
    """False where the send API answers no message id (WeChat's customer-service API)."""

    @property
    def provider(self) -> str:
        return self.channel.split("-")[0]


CHOSEN = "You chose: Order status."
CASES = [
    Case(
        "whatsapp",
        "buttons",
        CHOSEN,
        "read",
        {"kind": "rate_limited"},  # Graph 130429: WhatsApp's throughput limit (waits 1 s)
        "rate_limited",
        {"kind": "window_closed"},  # Graph 131047: more than 24 h since the customer wrote
        "window_closed",
        receipt_failure=("invalid_recipient", "131026"),
    ),
    Case(
        "messenger",
        "buttons",
        CHOSEN,
        "delivered",  # Messenger's read receipts carry only a watermark
        {"kind": "server_error"},  # Graph code 2, HTTP 500, transient
        "graph_2",
        {"kind": "window_closed"},  # Graph 10 / 2018278
        "window_closed",
    ),
    Case(
        "instagram",
        "buttons",
        CHOSEN,
        "read",  # Instagram: no delivery receipts, messaging_seen with the mid
        {"kind": "server_error", "status": 503},
        "graph_2",
        {"kind": "window_closed"},
        "window_closed",
    ),
    Case(
        "telegram",
        "buttons",
        CHOSEN,
        "sent",  # Telegram has no delivery receipts
        {"kind": "rate_limited", "retry_after": 1},  # 429 with parameters.retry_after
        "rate_limited",
        {"kind": "opted_out"},  # 403 "Forbidden: bot was blocked by the user"
        "opted_out",
    ),
    Case(
        "twilio",
        "text",  # SMS: numbered options, the customer types "2"
        CHOSEN,
        "delivered",
        {"kind": "rate_limited"},  # HTTP 429, Twilio 20429
        "rate_limited",
        {"kind": "opted_out"},  # Twilio 21610 (the customer sent STOP to the number)
        "opted_out",
        receipt_failure=("invalid_recipient", "30003"),  # undelivered, ErrorCode 30003
        tap="text",
    ),
    Case(
        "twilio-whatsapp",
        "text",
        CHOSEN,
        "read",
        {"kind": "timeout", "delay": 1.5},  # no answer within dispatch_timeout (1 s)
        "timeout",
        {"kind": "invalid_recipient"},  # Twilio 21211
        "invalid_recipient",
        receipt_failure=("window_closed", "window_closed"),  # status callback, ErrorCode 63016
        customer={"whatsapp": True},
        tap="text",
    ),
    Case(
        "wechat",
        "buttons",  # msgmenu; a tap comes back as the line's text
        CHOSEN,
        "sent",  # WeChat has no delivery receipts
        {"kind": "server_error"},  # errcode -1 "system error" (HTTP 200)
        "provider_busy",
        {"kind": "window_closed"},  # errcode 45015: 48 h since the user's last interaction
        "window_closed",
        tap="text",
        message_ids=False,
    ),
    Case(
        "line",
        "buttons",
        # A postback carries only its data; the title comes from the options we offered.
        CHOSEN,
        "sent",  # LINE has no delivery receipts
        {"kind": "rate_limited"},  # HTTP 429
        "rate_limited",
        {"kind": "invalid_recipient"},  # HTTP 400, invalid 'to'
        "invalid_request",
    ),
    Case(
        "viber",
        "buttons",  # a keyboard; the tap is a text message matched through tracking_data
        CHOSEN,
        "read",  # "seen"
        {"kind": "server_error"},  # HTTP 500
        "http_500",
        {"kind": "opted_out"},  # status 6 receiverNotSubscribed
        "opted_out",
        receipt_failure=("invalid_recipient", None),
    ),
]
IDS = [case.channel for case in CASES]


async def _messages(ctx: Context, connection_id: str, direction: str) -> list[Message]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Message)
            .where(Message.connection_id == connection_id, Message.direction == direction)
            .order_by(Message.id)
        )
        return list(rows.scalars())


async def _attempts(ctx: Context, message_id: int) -> list[DeliveryAttempt]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.id)
        )
        return list(rows.scalars())


async def _eventually(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _outbound_with(ctx: Context, connection_id: str, text: str) -> Message | None:
    for message in await _messages(ctx, connection_id, "out"):
        if message.content.get("text") == text:
            return message
    return None


async def _start(
    case: Case, ctx: Context, workspace: dict[str, str], url: str, sim: ProviderSimulator
) -> tuple[Account, str, Customer]:
    # Twilio's default pace is one message per second (a US long code); tests go faster.
    account, connection_id = await connect(ctx, workspace["id"], sim, case.provider, url, rate=50)
    return account, connection_id, sim.customer(account, **case.customer)


async def _stored_copy(ctx: Context, message_id: int, app_url: str) -> bytes:
    """Wait until the media stage copied the file into Toonbank's storage; fetch that copy."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        async with ctx.db.session() as session:
            message = await session.get(Message, message_id)
        assert message is not None
        assert message.error_code is None, message.error_detail
        url = message.content["url"]
        if url.startswith("/media/"):
            break
        assert asyncio.get_running_loop().time() < deadline, f"media not copied: {url}"
        await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=app_url, timeout=10) as http:
        response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    return response.content


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_conversation(
    case: Case,
    ctx: Context,
    workspace: dict[str, str],
    toonbank_url: str,
    provider_sim: ProviderSimulator,
) -> None:
    _account, connection_id, customer = await _start(
        case, ctx, workspace, toonbank_url, provider_sim
    )

    # A customer writes: the greeting and the menu arrive at the provider's send API.
    await customer.says("hi")
    greeting, menu = await customer.wait_for(2)
    assert greeting.text == GREETING
    assert menu.kind == case.menu_kind
    assert [option.title for option in menu.options] == MENU
    assert menu.text is not None and menu.text.startswith("What would you like to do?")

    # The customer taps a button (or, on SMS, types its number): the bot echoes the choice.
    await customer.taps("Order status")
    inbox = await customer.wait_for(4)
    assert inbox[2].text == case.chosen
    assert [option.title for option in inbox[3].options] == MENU

    # A photo: arrives as the provider's reference; the media stage fetches it through the
    # provider's API (Graph, getFile, LINE content, Twilio Basic auth, CDN link) and keeps a copy.
    _posted, media = await customer.sends_image("the blue one")
    inbox = await customer.wait_for(5)
    assert inbox[4].text == "Thanks, I received your image."
    inbound = await _messages(ctx, connection_id, "in")
    assert [m.content["type"] for m in inbound] == ["text", case.tap, "media"]
    if case.tap == "reply":
        assert inbound[1].content["payload"] == "menu:order"
    photo = inbound[2].content
    assert photo["kind"] == "image"
    assert await _stored_copy(ctx, inbound[2].id, toonbank_url) == media.data

    # Every reply was sent once, under the provider's id, and the receipts came back.
    await _receipts_settle(ctx, connection_id, case.receipts, len(inbox))
    outbound = await _messages(ctx, connection_id, "out")
    expected = [s.message_id if case.message_ids else None for s in inbox]
    assert [m.provider_message_id for m in outbound] == expected
    assert all(m.attempts == 1 for m in outbound)


async def _receipts_settle(ctx: Context, connection_id: str, status: str, count: int) -> None:
    async def settled() -> bool:
        statuses = [m.status for m in await _messages(ctx, connection_id, "out")]
        return statuses == [status] * count

    await _eventually(settled)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_send_failures_are_retried_or_reported(
    case: Case,
    ctx: Context,
    workspace: dict[str, str],
    toonbank_url: str,
    provider_sim: ProviderSimulator,
) -> None:
    _account, connection_id, customer = await _start(
        case, ctx, workspace, toonbank_url, provider_sim
    )
    await customer.says("hi")
    await customer.wait_for(2)

    # A transient failure (429 with the provider's retry hint, 5xx, timeout): retried, once.
    provider_sim.fail(case.provider, recipient=customer.address, **case.retry_fault)
    await customer.says("where is my parcel")
    echo = (await customer.wait_for(3))[2]
    assert echo.text == "You said: where is my parcel"

    async def recorded() -> Message | None:
        found = await _outbound_with(ctx, connection_id, "You said: where is my parcel")
        return (
            found if found is not None and found.status in ("sent", "delivered", "read") else None
        )

    message = await _eventually(recorded)
    attempts = await _attempts(ctx, message.id)
    assert [a.outcome for a in attempts] == ["retry", "sent"]
    assert [a.error_code for a in attempts] == [case.retry_code, None]
    assert message.attempts == 2
    copies = [s for s in customer.inbox() if s.text == echo.text]
    assert len(copies) == 1, "delivered exactly once"

    async def faulted_once() -> bool:  # a timed-out call is recorded when it finally answers
        calls = provider_sim.calls_for(case.provider, customer.address)
        return [c.outcome for c in calls].count(case.retry_fault["kind"]) == 1

    await _eventually(faulted_once)

    # A permanent failure (opted out, window closed, invalid recipient): reported, not retried.
    provider_sim.fail(case.provider, recipient=customer.address, **case.permanent_fault)
    await customer.says("cancel my order please")

    async def failed() -> Message | None:
        found = await _outbound_with(ctx, connection_id, "You said: cancel my order please")
        return found if found is not None and found.status == "failed" else None

    message = await _eventually(failed)
    assert message.error_code == case.permanent_code
    assert [a.outcome for a in await _attempts(ctx, message.id)] == ["failed"]
    assert len(customer.inbox()) == 3


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.receipt_failure],
    ids=[c.channel for c in CASES if c.receipt_failure],
)
async def test_failed_delivery_receipt_marks_the_message_failed(
    case: Case,
    ctx: Context,
    workspace: dict[str, str],
    toonbank_url: str,
    provider_sim: ProviderSimulator,
) -> None:
    assert case.receipt_failure is not None
    kind, code = case.receipt_failure
    _account, connection_id, customer = await _start(
        case, ctx, workspace, toonbank_url, provider_sim
    )
    provider_sim.fail(case.provider, kind, on="receipt", recipient=customer.address)
    await customer.says("hi")
    greeting = (await customer.wait_for(1))[0]

    async def reported() -> Message | None:
        found = await _outbound_with(ctx, connection_id, GREETING)
        return found if found is not None and found.status == "failed" else None

    message = await _eventually(reported)
    assert message.provider_message_id == greeting.message_id
    assert message.attempts == 1  # accepted by the provider, failed on the way to the phone
    assert message.error_code == code
    assert message.sent_at is not None and message.failed_at is not None
