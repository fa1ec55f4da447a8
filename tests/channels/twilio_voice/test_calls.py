"""Phone calls end to end: Twilio voice webhooks → the real pipeline → TwiML (both backends).

Requests are signed with the official SDK's ``RequestValidator`` over the public URL; the TwiML
answers are parsed as XML; SMS the channel sends are asserted at the HTTP transport.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select, update
from tests.channels.conformance import Recorder
from tests.channels.twilio.spec import MESSAGE_SID, message_created
from tests.channels.twilio_voice.spec import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALL_SID,
    CALLER,
    FROM_NUMBER,
    call_params,
)
from tests.helpers import count
from twilio.request_validator import RequestValidator

from toonbank.app import create_app
from toonbank.channels.connections import create_connection
from toonbank.channels.content import PaymentLink, Text
from toonbank.config import Settings
from toonbank.context import Context, create_context
from toonbank.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationTransition,
    InboundEvent,
    Message,
    Workspace,
)
from toonbank.pipeline.normalize import normalize_batch
from toonbank.pipeline.worker import Worker
from toonbank.responders.base import Turn, TurnResult

TRANSFER_NUMBER = "+31201234567"
LIVE = {"reply_wait_seconds": "8"}
"""With the pipeline running, answers come within the request; generous for a loaded machine
(and for the pipeline retrying a transaction PostgreSQL aborted as a deadlock)."""
GREETING = "Hello! You are speaking with our automated assistant. How can I help you?"
BOT_GREETING = "Hi! I'm the Toonbank demo assistant (an automated bot). How can I help?"
MENU = (
    "What would you like to do? Say or press 1 for Browse products, 2 for Order status, "
    "or 3 for Talk to a person."
)


# --------------------------------------------------------------------------------------------
# A phone: signs requests like Twilio and follows the TwiML it gets back
# --------------------------------------------------------------------------------------------


@dataclass
class Twiml:
    root: ET.Element

    @property
    def verbs(self) -> list[str]:
        return [child.tag for child in self.root]

    @property
    def says(self) -> list[str]:
        return [el.text or "" for el in self.root.iter("Say")]

    @property
    def gather(self) -> ET.Element:
        found = self.root.find("Gather")
        assert found is not None, ET.tostring(self.root)
        return found

    def first(self, tag: str) -> ET.Element:
        found = self.root.find(tag)
        assert found is not None, f"no <{tag}> in {ET.tostring(self.root)!r}"
        return found

    def step_of(self, url: str) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Phone:
    """One caller on one call, talking to the app like Twilio does."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        ctx: Context,
        connection_id: str,
        caller: str = CALLER,
        call_sid: str = CALL_SID,
    ) -> None:
        self.client = client
        self.connection_id = connection_id
        self.caller = caller
        self.call_sid = call_sid
        self.public = ctx.settings.public_url.rstrip("/")

    @property
    def webhook(self) -> str:
        return f"{self.public}/webhooks/{self.connection_id}"

    async def post(
        self, url: str, *, token: str = AUTH_TOKEN, signature: str | None = None, **params: str
    ) -> httpx.Response:
        fields = call_params(CallSid=self.call_sid, From=self.caller, Caller=self.caller, **params)
        sig = signature or RequestValidator(token).compute_signature(url, fields)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return await self.client.post(
            path,
            content=urlencode(fields).encode(),
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "x-twilio-signature": sig,
            },
        )

    async def twiml(self, url: str, **params: str) -> Twiml:
        response = await self.post(url, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/xml")
        root = ET.fromstring(response.content)  # noqa: S314 - our own app's answer
        assert root.tag == "Response"
        return Twiml(root)

    async def dial_in(self) -> Twiml:
        return await self.twiml(self.webhook)

    async def say(self, twiml: Twiml, speech: str, confidence: str = "0.91") -> Twiml:
        action = twiml.gather.get("action") or ""
        return await self.twiml(
            action, CallStatus="in-progress", SpeechResult=speech, Confidence=confidence
        )

    async def press(self, twiml: Twiml, digit: str) -> Twiml:
        action = twiml.gather.get("action") or ""
        return await self.twiml(action, CallStatus="in-progress", Digits=digit)

    async def follow_redirect(self, twiml: Twiml) -> Twiml:
        return await self.twiml(twiml.first("Redirect").text or "", CallStatus="in-progress")

    async def hang_up(self) -> Twiml:
        return await self.twiml(self.webhook, CallStatus="completed", CallDuration="42")


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def twilio_api(ctx: Context) -> AsyncIterator[Recorder]:
    """Twilio's REST API at the HTTP transport: every request the app makes is recorded."""
    recorder = Recorder(lambda request: _created(request, len(recorder.requests)))
    original = ctx.http
    ctx.http = recorder.client()
    yield recorder
    await original.aclose()


def _created(request: httpx.Request, number: int) -> httpx.Response:
    """Twilio's 201 for a new Message, each with its own sid (the first: ``MESSAGE_SID``)."""
    response = message_created(request)
    if number > 1:
        data = response.json()
        data["sid"] = f"SM{number:032x}"
        return httpx.Response(201, json=data)
    return response


@pytest.fixture
async def live_worker(ctx: Context) -> AsyncIterator[Worker]:
    """The pipeline running in the background, as in ``toonbank serve``."""
    worker = Worker(ctx)
    await worker.start()
    yield worker
    await worker.stop(grace=2)


async def voice_connection(ctx: Context, workspace_id: str, **settings: str) -> str:
    async with ctx.db.uow() as uow:
        row = await create_connection(
            uow.session,
            ctx.secret_box,
            ctx.channels,
            workspace_id=workspace_id,
            type="twilio-voice",
            name="phone",
            values={
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "from_number": FROM_NUMBER,
                **settings,
            },
            api_base_url="https://twilio.test",
        )
    return row.id


async def messages(ctx: Context, direction: str) -> list[Message]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Message).where(Message.direction == direction).order_by(Message.id)
        )
        return list(rows.scalars())


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def statuses(ctx: Context) -> list[tuple[str, str | None]]:
    return [(m.status, m.error_code) for m in await messages(ctx, "out")]


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


async def test_incoming_call_is_greeted_and_listened_to(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    connection_id = await voice_connection(ctx, workspace["id"])
    phone = Phone(app_client, ctx, connection_id)
    greeting = await phone.dial_in()
    assert greeting.verbs == ["Gather", "Redirect"]
    gather = greeting.gather
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "en-US"
    assert gather.get("speechTimeout") == "auto"
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{phone.webhook}?step=gather&turn=1&locale=en-US"
    assert [say.text for say in gather.iter("Say")] == [GREETING]
    redirect = greeting.first("Redirect").text or ""
    assert greeting.step_of(redirect) == {
        "step": "listen",
        "turn": "1",
        "locale": "en-US",
        "tries": "1",
    }
    assert await count(ctx, InboundEvent) == 0  # a ringing phone is not a message


async def test_speech_is_answered_through_the_pipeline(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    twilio_api: Recorder,
    live_worker: Worker,
) -> None:
    connection_id = await voice_connection(ctx, workspace["id"], voice="Polly.Joanna", **LIVE)
    phone = Phone(app_client, ctx, connection_id)
    answer = await phone.say(await phone.dial_in(), "Hello.")
    assert answer.verbs == ["Gather", "Redirect"]
    assert answer.says == [BOT_GREETING, MENU]
    gather = answer.gather
    assert {say.get("voice") for say in gather.iter("Say")} == {"Polly.Joanna"}
    assert gather.get("hints") == "Browse products, Order status, Talk to a person"
    assert answer.step_of(gather.get("action") or "") == {
        "step": "gather",
        "turn": "2",
        "locale": "en-US",
    }
    [inbound] = await messages(ctx, "in")
    assert inbound.content == {"type": "text", "text": "Hello"}  # Twilio's full stop dropped
    assert inbound.provider_message_id == f"{CALL_SID}:1"
    # Speech costs no API request; the replies are reported delivered once spoken.
    await eventually(lambda: _all(ctx, ("delivered", None), 2))
    assert twilio_api.requests == []


async def _all(ctx: Context, status: tuple[str, str | None], n: int) -> bool:
    return await statuses(ctx) == [status] * n


async def test_caller_waits_on_hold_until_the_answer_is_ready(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient, twilio_api: Recorder
) -> None:
    connection_id = await voice_connection(ctx, workspace["id"], reply_wait_seconds="0")
    phone = Phone(app_client, ctx, connection_id)
    greeting = await phone.dial_in()
    hold = await phone.say(greeting, "Hello")
    assert hold.verbs == ["Say", "Pause", "Redirect"]
    assert hold.says == ["One moment, please."]
    poll = hold.first("Redirect").text or ""
    assert hold.step_of(poll) == {"step": "poll", "turn": "1", "locale": "en-US", "tries": "1"}
    # Twilio retrying the gather request stores nothing twice.
    await phone.say(greeting, "Hello")
    assert await count(ctx, InboundEvent) == 1
    still = await phone.follow_redirect(hold)
    assert still.verbs == ["Pause", "Redirect"]
    assert still.step_of(still.first("Redirect").text or "")["tries"] == "2"
    await Worker(ctx).drain()
    answer = await phone.follow_redirect(still)
    assert answer.says == [BOT_GREETING, MENU]
    assert answer.step_of(answer.gather.get("action") or "")["turn"] == "2"
    await Worker(ctx).drain()
    assert await statuses(ctx) == [("delivered", None)] * 2


async def test_keypad_choice_maps_to_the_button_payload(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    twilio_api: Recorder,
    live_worker: Worker,
) -> None:
    connection_id = await voice_connection(ctx, workspace["id"], **LIVE)
    phone = Phone(app_client, ctx, connection_id)
    menu = await phone.say(await phone.dial_in(), "Hello")
    assert menu.says[-1] == MENU
    chosen = await phone.press(menu, "2")
    assert chosen.says == ["You chose: Order status.", MENU]
    spoken = await phone.say(chosen, "Browse products.")  # or say the option
    assert spoken.says[0] == "You chose: Browse products."
    inbound = await messages(ctx, "in")
    assert [m.content["text"] for m in inbound] == ["Hello", "2", "Browse products"]
    assert [m.provider_message_id for m in inbound] == [f"{CALL_SID}:{n}" for n in (1, 2, 3)]


async def test_pressing_zero_transfers_to_a_person(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient, twilio_api: Recorder
) -> None:
    connection_id = await voice_connection(ctx, workspace["id"], transfer_number=TRANSFER_NUMBER)
    phone = Phone(app_client, ctx, connection_id)
    greeting = await phone.dial_in()
    assert greeting.says == [GREETING, "To talk to a person, press 0 at any time."]
    pressed = asyncio.create_task(phone.press(greeting, "0"))
    while await count(ctx, InboundEvent) == 0:
        await asyncio.sleep(0.02)
    await normalize_batch(ctx, "test-normalizer")  # the message is filed; its conversation known
    transfer = await pressed
    assert transfer.verbs == ["Say", "Dial"]
    assert transfer.says == ["I am connecting you to a colleague. One moment, please."]
    dial = transfer.first("Dial")
    assert dial.text == TRANSFER_NUMBER
    assert transfer.step_of(dial.get("action") or "")["step"] == "dialed"
    await Worker(ctx).drain()
    async with ctx.db.session() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
        reason = await session.scalar(
            select(ConversationTransition.reason).where(
                ConversationTransition.to_status == "queued"
            )
        )
    assert conversation.status == "queued"
    assert reason == "the caller asked for a person"
    assert await messages(ctx, "out") == []  # people answer now, not the bot
    unanswered = await phone.twiml(dial.get("action") or "", DialCallStatus="no-answer")
    assert unanswered.verbs == ["Say", "Hangup"]
    assert unanswered.says[0].startswith("Sorry, no one is available right now.")
    finished = await phone.twiml(dial.get("action") or "", DialCallStatus="completed")
    assert finished.verbs == ["Hangup"]


@pytest.mark.parametrize("transfer", [True, False], ids=["transfer", "no-transfer-number"])
async def test_bot_handover_ends_in_a_transfer_or_a_promise(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    twilio_api: Recorder,
    live_worker: Worker,
    transfer: bool,
) -> None:
    settings = {"transfer_number": TRANSFER_NUMBER, **LIVE} if transfer else LIVE
    connection_id = await voice_connection(ctx, workspace["id"], **settings)
    phone = Phone(app_client, ctx, connection_id)
    menu = await phone.say(await phone.dial_in(), "Hello")
    answer = await phone.press(menu, "3")  # "Talk to a person": the bot hands over
    handover = "I'm passing you to a colleague. Someone will reply here shortly."
    if transfer:
        assert answer.verbs == ["Say", "Say", "Dial"]
        assert answer.says[0] == handover
        assert answer.first("Dial").text == TRANSFER_NUMBER
    else:
        assert answer.verbs == ["Say", "Say", "Hangup"]
        assert answer.says == [handover, "A colleague will get back to you. Goodbye."]


async def test_payment_link_is_announced_and_sent_by_sms(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    twilio_api: Recorder,
    live_worker: Worker,
) -> None:
    ctx.responders.register(_Checkout())
    async with ctx.db.uow() as uow:
        await uow.session.execute(
            update(Workspace)
            .where(Workspace.id == workspace["id"])
            .values(settings={"responder": "checkout"})
        )
    connection_id = await voice_connection(ctx, workspace["id"], **LIVE)
    phone = Phone(app_client, ctx, connection_id)
    answer = await phone.say(await phone.dial_in(), "I'd like to pay")
    assert answer.says == [
        "Your total is €134.45.",
        "Your order. To pay €134.45, I have sent you a secure payment link by text message.",
    ]
    await eventually(lambda: _sms_sent(twilio_api))
    [sms] = twilio_api.requests
    assert str(sms.url) == f"https://twilio.test/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    form = {k: v[0] for k, v in parse_qs(sms.content.decode()).items()}
    assert form == {
        "To": CALLER,
        "From": FROM_NUMBER,
        "Body": "Your order\nPay €134.45 securely: https://pay.test/l/abc",
    }
    await eventually(lambda: _statuses_are(ctx, [("delivered", None), ("sent", None)]))
    link = (await messages(ctx, "out"))[1]
    assert link.provider_message_id == MESSAGE_SID  # the SMS's own receipts will match


async def _sms_sent(recorder: Recorder) -> bool:
    return len(recorder.requests) == 1


async def _statuses_are(ctx: Context, expected: list[tuple[str, str | None]]) -> bool:
    return await statuses(ctx) == expected


class _Checkout:
    name = "checkout"

    async def respond(self, turn: Turn) -> TurnResult:
        return TurnResult(
            replies=[
                Text(text="Your total is €134.45."),
                PaymentLink(
                    url="https://pay.test/l/abc", amount=13445, currency="EUR", text="Your order"
                ),
            ],
            state=dict(turn.state),
        )


async def test_hanging_up_reports_replies_never_heard(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient, twilio_api: Recorder
) -> None:
    connection_id = await voice_connection(ctx, workspace["id"], reply_wait_seconds="0")
    phone = Phone(app_client, ctx, connection_id)
    hold = await phone.say(await phone.dial_in(), "Hello")
    assert hold.verbs[-1] == "Redirect"
    ended = await phone.hang_up()  # before the answer was ready
    assert ended.verbs == []
    await Worker(ctx).drain()
    assert await statuses(ctx) == [("sent", None)] * 2  # queued while the call was ending
    await phone.hang_up()  # the next call-end callback of this caller reports them
    await Worker(ctx).drain()
    assert await statuses(ctx) == [("failed", "call_ended")] * 2


async def test_forged_or_altered_requests_are_refused_and_store_nothing(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    connection_id = await voice_connection(ctx, workspace["id"])
    phone = Phone(app_client, ctx, connection_id)
    gather = f"{phone.webhook}?step=gather&turn=1&locale=en-US"
    speech = {"CallStatus": "in-progress", "SpeechResult": "Hello"}
    wrong_token = await phone.post(gather, token="not-the-auth-token", **speech)
    assert wrong_token.status_code == 401
    assert wrong_token.json()["error"] == "invalid_signature"
    missing = await app_client.post(
        f"/webhooks/{connection_id}?step=gather&turn=1",
        content=urlencode(call_params(**speech)).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert missing.status_code == 401
    # A signature for turn 1 does not cover a request for turn 2 (the query is signed).
    fields = call_params(**speech)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(gather, fields)
    altered = await phone.post(gather.replace("turn=1", "turn=2"), signature=signature, **speech)
    assert altered.status_code == 401
    assert await count(ctx, InboundEvent) == 0
    assert await count(ctx, Message) == 0


async def test_caller_and_sms_customer_are_one_contact_in_their_language(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    twilio_api: Recorder,
) -> None:
    sms_id = await _sms_connection(ctx, workspace["id"])
    sms_url = f"{ctx.settings.public_url.rstrip('/')}/webhooks/{sms_id}"
    sms = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": "SM0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "From": CALLER,
        "To": FROM_NUMBER,
        "Body": "Hoi, ik wil een blazer",
        "NumMedia": "0",
    }
    response = await app_client.post(
        f"/webhooks/{sms_id}",
        content=urlencode(sms).encode(),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": RequestValidator(AUTH_TOKEN).compute_signature(sms_url, sms),
        },
    )
    assert response.status_code == 200
    await Worker(ctx).drain()
    connection_id = await voice_connection(ctx, workspace["id"], reply_wait_seconds="0")
    phone = Phone(app_client, ctx, connection_id)
    greeting = await phone.dial_in()  # a known customer who wrote in Dutch: greeted in Dutch
    assert greeting.gather.get("language") == "nl-NL"
    assert greeting.says == [
        "Hallo! U spreekt met onze automatische assistent. Waarmee kan ik helpen?"
    ]
    hold = await phone.say(greeting, "Ik wil mijn bestelling weten")
    assert hold.says == ["Een ogenblik, alstublieft."]
    await Worker(ctx).drain()
    answer = await phone.follow_redirect(hold)
    assert answer.says == ["Je zei: Ik wil mijn bestelling weten."]
    assert answer.gather.get("language") == "nl-NL"
    assert await count(ctx, Contact) == 1
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(ContactIdentity.channel_type, ContactIdentity.external_id)
        )
        identities = sorted((channel, external) for channel, external in rows)
        contact = (await session.execute(select(Contact))).scalar_one()
    assert identities == [("twilio", CALLER), ("twilio-voice", CALLER)]
    assert contact.phone == CALLER
    assert await count(ctx, Conversation) == 1


async def _sms_connection(ctx: Context, workspace_id: str) -> str:
    async with ctx.db.uow() as uow:
        row = await create_connection(
            uow.session,
            ctx.secret_box,
            ctx.channels,
            workspace_id=workspace_id,
            type="twilio",
            name="sms",
            values={
                "account_sid": ACCOUNT_SID,
                "auth_token": AUTH_TOKEN,
                "from_number": FROM_NUMBER,
            },
            api_base_url="https://twilio.test",
        )
    return row.id


async def test_any_process_can_serve_any_request_of_a_call(
    ctx: Context,
    settings: Settings,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    twilio_api: Recorder,
) -> None:
    """No call state lives in a process: one app answers the call, another one the hold loop,
    and a worker of a third context runs the pipeline."""
    connection_id = await voice_connection(ctx, workspace["id"], reply_wait_seconds="0")
    first = Phone(app_client, ctx, connection_id)
    hold = await first.say(await first.dial_in(), "Hello")
    other = create_context(settings)
    await other.start()
    try:
        app = create_app(settings, ctx=other)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://other") as client:
                second = Phone(client, other, connection_id)
                worker_ctx = create_context(settings)
                await worker_ctx.start()
                try:
                    await Worker(worker_ctx).drain()
                finally:
                    await worker_ctx.close()
                answer = await second.follow_redirect(hold)
    finally:
        await other.close()
    assert answer.says == [BOT_GREETING, MENU]
