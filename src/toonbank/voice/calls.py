"""The live call: conducts a ``twilio-voice`` call through the ordinary message pipeline.

Twilio voice webhooks are synchronous (Twilio waits for TwiML), but Toonbank's answers come from
the pipeline, possibly in another process. The call is therefore driven by the database and by
state in the (Twilio-signed) URLs of the TwiML we answer with, never by memory of one process:

1. **A call comes in** → greet in the caller's language (their open conversation's language, if
   we know them by phone; else the number's ``language``) inside ``<Gather input="dtmf
   speech">``, whose action is ``?step=gather&turn=1``.
2. **The caller said something** (``step=gather``) → stored through the normal ingest path as
   their message (deduplication key ``{CallSid}:{turn}``). The request then waits up to
   ``reply_wait_seconds`` for the pipeline to have *processed* that message: the process stage
   commits a message's replies in the same transaction that marks it processed, so from then on
   the turn's replies are all in the outbox. They are spoken at once, inside the next
   ``<Gather>`` (``turn + 1``).
3. **Not ready yet** → the caller is put on hold: "One moment, please", a one-second
   ``<Pause>`` and a ``<Redirect>`` to ``?step=poll``, which waits again (any web process can
   serve it); after ``MAX_POLLS`` rounds the caller is told it takes long and is transferred or
   may speak again.
4. **Spoken replies** are reported ``delivered`` through the ingest ledger (receipts on the
   provider id the channel's ``send`` returned: its idempotency key). Links, payment links and
   media go out by SMS from the adapter's ``send``; the call says so.
5. **People**: pressing 0 or asking for "an agent" (with a ``transfer_number``) hands the
   conversation over (``queued``) and answers ``<Dial>``; a conversation the bot handed over,
   or that an agent took, is transferred after the replies are spoken. Without a transfer
   number the caller is told a colleague will get back to them.
6. **The call ends** (status callback ``completed`` etc.) → replies the caller never heard are
   reported ``failed`` with ``call_ended``, so agents see what did not reach them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import structlog
from pydantic import ValidationError
from sqlalchemy import select

from toonbank.channels.base import (
    Connection,
    DeliveryReceipt,
    InboundMessage,
    InboundRequest,
    WebhookResponse,
)
from toonbank.channels.content import parse_content
from toonbank.channels.twilio_voice import twiml
from toonbank.channels.twilio_voice.adapter import TYPE
from toonbank.channels.twilio_voice.inbound import CallWebhook, read_call, utterance
from toonbank.channels.twilio_voice.speech import (
    Say,
    Utterance,
    call_locale,
    phrase,
    sent_by_text_message,
    speak,
    spoken_options,
)
from toonbank.channels.twilio_voice.twiml import Speaker
from toonbank.contacts.service import normalize_phone
from toonbank.conversations.service import change_status
from toonbank.conversations.states import BOT, CLOSED, QUEUED
from toonbank.models import Contact, ContactIdentity, Conversation, Message
from toonbank.pipeline.ingest import store_events

log = structlog.get_logger(__name__)
VOICE_TYPE = TYPE

REPLY_WAIT = 3.0
MAX_REPLY_WAIT = 10.0
"""A request never waits longer (Twilio gives up on a webhook after 15 seconds)."""
CHECK_INTERVAL = 0.1
MAX_POLLS = 8
"""Hold rounds (each: the wait, a one-second pause) before the caller is told it takes long."""
MAX_MISSES = 2
UNSPOKEN = ("queued", "sending", "sent")


def spoken_id(message_id: int) -> str:
    """The provider id of a spoken reply: what ``send`` returned (the dispatcher's key)."""
    return f"toonbank-{message_id}"


@dataclass(frozen=True, slots=True)
class CallConfig:
    """The connection's call settings."""

    language: str
    voice: str | None
    speech_model: str | None
    transfer_number: str | None
    greeting: str | None
    reply_wait: float

    @classmethod
    def of(cls, connection: Connection) -> CallConfig:
        def text(key: str) -> str | None:
            value = connection.settings.get(key)
            if value is None:
                return None
            return str(value).strip() or None

        try:
            wait = float(connection.settings.get("reply_wait_seconds", REPLY_WAIT))
        except (TypeError, ValueError):
            wait = REPLY_WAIT
        return cls(
            language=text("language") or "en-US",
            voice=text("voice"),
            speech_model=text("speech_model"),
            transfer_number=text("transfer_number"),
            greeting=text("greeting"),
            reply_wait=min(max(wait, 0.0), MAX_REPLY_WAIT),
        )

    def speaker(self, locale: str) -> Speaker:
        """The configured voice speaks the configured locale only (voices are per language)."""
        voice = self.voice if locale == self.language else None
        return Speaker(locale=locale, voice=voice, speech_model=self.speech_model)


@dataclass(frozen=True, slots=True)
class Turn:
    """A processed caller message: its conversation's state and the replies to speak."""

    status: str
    language: str | None
    replies: list[Message]


class _Urls:
    """Absolute URLs of the next steps (the public URL Twilio called, our own query)."""

    def __init__(self, request_url: str) -> None:
        parts = urlsplit(request_url)
        self.base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    def __call__(self, step: str, *, turn: int, locale: str, tries: int | None = None) -> str:
        query: dict[str, Any] = {"step": step, "turn": turn, "locale": locale}
        if tries is not None:
            query["tries"] = tries
        return f"{self.base}?{urlencode(query)}"


def _answer(body: bytes) -> WebhookResponse:
    return WebhookResponse(status=200, body=body, media_type="text/xml")


async def answer_call(ctx: Any, connection: Connection, request: InboundRequest) -> WebhookResponse:
    """Answer one verified voice webhook with TwiML (raises ``PayloadError`` for bad input)."""
    adapter = ctx.channels.get(connection.type)
    call = read_call(request)
    if call is None:  # a status callback of an SMS the channel sent (links, media)
        await store_events(ctx, connection, adapter.parse(request, connection))
        return _answer(twiml.empty())
    config = CallConfig.of(connection)
    urls = _Urls(request.url)
    log.debug("voice_webhook", connection_id=connection.id, call_sid=call.call_sid, step=call.step)
    if call.step == "ended":
        await _ended(ctx, connection, call)
        return _answer(twiml.empty())
    if call.step == "call":
        return _answer(await _greet(ctx, connection, call, config, urls))
    if call.step == "gather":
        return _answer(await _heard(ctx, connection, call, config, urls))
    if call.step == "poll":
        return _answer(await _poll(ctx, connection, call, config, urls))
    if call.step == "dialed":
        speaker = config.speaker(call.locale or config.language)
        answered = (call.dial_status or "").lower() in ("completed", "answered")
        return _answer(twiml.goodbye(speaker, [], None if answered else "no_answer"))
    return _answer(_not_heard(call, config, urls))  # "listen": the Gather heard nothing


async def _greet(
    ctx: Any, connection: Connection, call: CallWebhook, config: CallConfig, urls: _Urls
) -> bytes:
    language = await _caller_language(ctx, connection, call)
    locale = call_locale(language, config.language)
    speaker = config.speaker(locale)
    own = config.greeting if config.greeting and locale == config.language else None
    said: list[Utterance] = [Say(text=own or phrase("greeting", locale))]
    if config.transfer_number:
        said.append(Say(text=phrase("agent_hint", locale)))
    return twiml.listen(
        speaker,
        said,
        action=urls("gather", turn=call.turn, locale=locale),
        retry=urls("listen", turn=call.turn, locale=locale, tries=1),
    )


def _not_heard(call: CallWebhook, config: CallConfig, urls: _Urls) -> bytes:
    locale = call.locale or config.language
    speaker = config.speaker(locale)
    if call.tries > MAX_MISSES:
        return twiml.goodbye(speaker, [], "goodbye")
    return twiml.listen(
        speaker,
        [Say(text=phrase("not_heard", locale))],
        action=urls("gather", turn=call.turn, locale=locale),
        retry=urls("listen", turn=call.turn, locale=locale, tries=call.tries + 1),
    )


async def _heard(
    ctx: Any, connection: Connection, call: CallWebhook, config: CallConfig, urls: _Urls
) -> bytes:
    message = utterance(call)
    if message is None:
        return _not_heard(call, config, urls)
    await store_events(ctx, connection, [message])
    locale = call.locale or config.language
    speaker = config.speaker(locale)
    if message.extra.get("transfer") and config.transfer_number:
        await _hand_over(ctx, connection, message, config.reply_wait)
        return twiml.transfer(
            speaker,
            [],
            number=config.transfer_number,
            dialed=urls("dialed", turn=call.turn, locale=locale),
        )
    turn = await _await_turn(ctx, connection, call.message_id, config.reply_wait)
    if turn is None:
        return twiml.hold(
            speaker, poll=urls("poll", turn=call.turn, locale=locale, tries=1), announce=True
        )
    return await _speak(ctx, connection, call, config, urls, turn)


async def _poll(
    ctx: Any, connection: Connection, call: CallWebhook, config: CallConfig, urls: _Urls
) -> bytes:
    locale = call.locale or config.language
    speaker = config.speaker(locale)
    turn = await _await_turn(ctx, connection, call.message_id, config.reply_wait)
    if turn is not None:
        return await _speak(ctx, connection, call, config, urls, turn)
    if call.tries < MAX_POLLS:
        poll = urls("poll", turn=call.turn, locale=locale, tries=call.tries + 1)
        return twiml.hold(speaker, poll=poll, announce=False)
    log.warning("voice_reply_timeout", connection_id=connection.id, call_sid=call.call_sid)
    slow = [Say(text=phrase("slow", locale))]
    if config.transfer_number:
        dialed = urls("dialed", turn=call.turn, locale=locale)
        return twiml.transfer(speaker, slow, number=config.transfer_number, dialed=dialed)
    following = call.turn + 1
    return twiml.listen(
        speaker,
        [*slow, Say(text=phrase("not_heard", locale))],
        action=urls("gather", turn=following, locale=locale),
        retry=urls("listen", turn=following, locale=locale, tries=1),
    )


async def _speak(
    ctx: Any,
    connection: Connection,
    call: CallWebhook,
    config: CallConfig,
    urls: _Urls,
    turn: Turn,
) -> bytes:
    """Say the turn's replies, then listen again, transfer or hang up."""
    locale = call_locale(turn.language, config.language)
    speaker = config.speaker(locale)
    said: list[Utterance] = []
    hints: list[str] = []
    spoken: list[DeliveryReceipt] = []
    for reply in turn.replies:
        if reply.status == "failed":
            continue
        try:
            content = parse_content(reply.content)
        except ValidationError:
            continue
        said.extend(speak(content, locale))
        hints.extend(spoken_options(content))
        if not sent_by_text_message(content):
            spoken.append(
                DeliveryReceipt(provider_message_id=spoken_id(reply.id), status="delivered")
            )
    await store_events(ctx, connection, list(spoken))
    if turn.status == CLOSED:
        return twiml.goodbye(speaker, said, "goodbye")
    if turn.status != BOT:  # handed over to people (by the bot, or an agent took it)
        if config.transfer_number:
            dialed = urls("dialed", turn=call.turn, locale=locale)
            return twiml.transfer(speaker, said, number=config.transfer_number, dialed=dialed)
        return twiml.goodbye(speaker, said, "later")
    following = call.turn + 1
    return twiml.listen(
        speaker,
        said,
        action=urls("gather", turn=following, locale=locale),
        retry=urls("listen", turn=following, locale=locale, tries=1),
        hints=hints,
    )


async def _await_turn(
    ctx: Any, connection: Connection, message_id: str, wait: float
) -> Turn | None:
    """The processed turn of ``message_id``, waiting up to ``wait`` seconds for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        turn = await _read_turn(ctx, connection, message_id)
        if turn is not None or loop.time() >= deadline:
            return turn
        await asyncio.sleep(min(CHECK_INTERVAL, max(0.0, deadline - loop.time())))


async def _read_turn(ctx: Any, connection: Connection, message_id: str) -> Turn | None:
    async with ctx.db.session() as session:
        row = (
            await session.execute(
                select(Message.id, Message.conversation_id, Message.processed_at).where(
                    Message.connection_id == connection.id,
                    Message.direction == "in",
                    Message.provider_message_id == message_id,
                )
            )
        ).first()
        if row is None or row.processed_at is None:
            return None
        conversation = await session.get(Conversation, row.conversation_id)
        replies = (
            await session.execute(
                select(Message)
                .where(
                    Message.conversation_id == row.conversation_id,
                    Message.direction == "out",
                    Message.connection_id == connection.id,
                    Message.id > row.id,
                )
                .order_by(Message.id)
            )
        ).scalars()
        return Turn(
            status=conversation.status if conversation else CLOSED,
            language=conversation.language if conversation else None,
            replies=list(replies),
        )


async def _hand_over(
    ctx: Any, connection: Connection, message: InboundMessage, wait: float
) -> None:
    """Queue the caller's conversation for people (they pressed 0 or asked for an agent).

    The message is in the ledger; once the normalizer has filed it we know the conversation.
    If that takes longer than ``wait``, the transfer still happens and the bot may answer the
    message (a reply the caller no longer hears; it is reported ``call_ended``).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    conversation_id: str | None = None
    while conversation_id is None:
        async with ctx.db.session() as session:
            conversation_id = await session.scalar(
                select(Message.conversation_id).where(
                    Message.connection_id == connection.id,
                    Message.direction == "in",
                    Message.provider_message_id == message.provider_message_id,
                )
            )
        if conversation_id is None:
            if loop.time() >= deadline:
                log.info("voice_handover_not_recorded", connection_id=connection.id)
                return
            await asyncio.sleep(CHECK_INTERVAL)
    async with ctx.db.uow() as uow:
        conversation = await uow.session.get(Conversation, conversation_id)
        if conversation is not None and conversation.status == BOT:
            await change_status(
                uow,
                ctx.bus,
                conversation,
                QUEUED,
                reason="the caller asked for a person",
                actor="contact",
            )


async def _caller_contact(session: Any, connection: Connection, call: CallWebhook) -> str | None:
    """The contact behind the caller: their voice identity, else anyone with their number."""
    contact_id = await session.scalar(
        select(ContactIdentity.contact_id).where(
            ContactIdentity.workspace_id == connection.workspace_id,
            ContactIdentity.channel_type == TYPE,
            ContactIdentity.external_id == call.caller,
        )
    )
    phone = normalize_phone(call.phone)
    if contact_id is None and phone:
        contact_id = await session.scalar(
            select(Contact.id)
            .where(Contact.workspace_id == connection.workspace_id, Contact.phone == phone)
            .order_by(Contact.created_at)
            .limit(1)
        )
    return str(contact_id) if contact_id else None


async def _caller_language(ctx: Any, connection: Connection, call: CallWebhook) -> str | None:
    """The language of the caller's open conversation (on any channel), if we know them."""
    async with ctx.db.session() as session:
        contact_id = await _caller_contact(session, connection, call)
        if contact_id is None:
            return None
        language = await session.scalar(
            select(Conversation.language).where(
                Conversation.contact_id == contact_id, Conversation.closed_at.is_(None)
            )
        )
    return str(language) if language else None


async def _ended(ctx: Any, connection: Connection, call: CallWebhook) -> None:
    """The call is over: replies still waiting to be spoken will never be heard."""
    async with ctx.db.session() as session:
        contact_id = await session.scalar(
            select(ContactIdentity.contact_id).where(
                ContactIdentity.workspace_id == connection.workspace_id,
                ContactIdentity.channel_type == TYPE,
                ContactIdentity.external_id == call.caller,
            )
        )
        if contact_id is None:
            return
        waiting = (
            await session.execute(
                select(Message.id, Message.content).where(
                    Message.connection_id == connection.id,
                    Message.contact_id == contact_id,
                    Message.direction == "out",
                    Message.status.in_(UNSPOKEN),
                )
            )
        ).all()
    receipts: list[DeliveryReceipt] = []
    for message_id, content in waiting:
        try:
            if sent_by_text_message(parse_content(content)):
                continue  # went (or goes) out by SMS; its own receipts tell
        except ValidationError:
            pass
        receipts.append(
            DeliveryReceipt(
                provider_message_id=spoken_id(message_id),
                status="failed",
                error_code="call_ended",
                error_detail=f"the call ended ({call.call_status}) before this reply was spoken",
            )
        )
    await store_events(ctx, connection, list(receipts))
    log.info(
        "voice_call_ended",
        connection_id=connection.id,
        call_sid=call.call_sid,
        status=call.call_status,
        unspoken=len(receipts),
    )
