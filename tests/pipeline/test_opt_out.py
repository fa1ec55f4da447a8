"""STOP/START: an opted-out customer is not messaged on that channel until they opt back in."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
from sqlalchemy import select
from tests.helpers import SECRET, api_connection, count

from toonbank.channels.api import ApiChannel
from toonbank.channels.base import InboundMessage, SendError, SendResult
from toonbank.channels.connections import create_connection, to_connection
from toonbank.channels.content import Text
from toonbank.context import Context
from toonbank.models import Contact, DeliveryAttempt, Message
from toonbank.pipeline.ingest import store_events
from toonbank.pipeline.worker import Worker
from toonbank.simulator.api_channel import ApiReceiver, BackgroundServer


async def _say(ctx: Context, connection: object, msg_id: str, text: str, **extra: bool) -> None:
    message = InboundMessage(
        provider_message_id=msg_id, sender_id="cust", content=Text(text=text), extra=extra
    )
    await store_events(ctx, connection, [message])  # type: ignore[arg-type]
    await Worker(ctx).drain()


async def test_stop_blocks_sends_until_start(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    sim = ApiReceiver(secret=SECRET)
    with BackgroundServer(sim.app()) as server:
        connection = to_connection(
            await api_connection(ctx, workspace["id"], server.url), ctx.secret_box
        )
        await _say(ctx, connection, "m1", "hi")
        assert len(sim.deliveries) == 2
        await _say(ctx, connection, "m2", "STOP", opt_out=True)
        assert len(sim.deliveries) == 2  # the bot's echo of STOP was not sent
        async with ctx.db.session() as session:
            [contact] = (await session.execute(select(Contact))).scalars()
            echo = (
                await session.execute(select(Message).order_by(Message.id.desc()).limit(1))
            ).scalar_one()
        assert contact.attributes["opted_out_channels"] == ["api"]
        assert echo.status == "failed" and echo.error_code == "opted_out"
        await _say(ctx, connection, "m3", "START", opt_in=True)
        assert [d.content.get("text") for d in sim.deliveries[2:]] == ["You said: START"]


class RefusingChannel(ApiChannel):
    """A provider that answers every send with its "recipient opted out" error (Twilio 21610)."""

    manifest = replace(ApiChannel.manifest, type="refusing")
    calls = 0

    async def send(self, *args: Any, **kwargs: Any) -> SendResult:
        RefusingChannel.calls += 1
        raise SendError("21610: unsubscribed recipient", retryable=False, error_code="opted_out")


async def test_provider_reported_opt_out_marks_the_contact(
    ctx: Context, workspace: dict[str, str]
) -> None:
    RefusingChannel.calls = 0
    ctx.channels.register(RefusingChannel())
    async with ctx.db.uow() as uow:
        row = await create_connection(
            uow.session, ctx.secret_box, ctx.channels, workspace_id=workspace["id"],
            type="refusing", name="sms", values={"webhook_secret": SECRET},
        )  # fmt: skip
    await _say(ctx, to_connection(row, ctx.secret_box), "m1", "hello there")
    async with ctx.db.session() as session:
        [contact] = (await session.execute(select(Contact))).scalars()
        attempts = (await session.execute(select(DeliveryAttempt))).scalars().all()
    assert contact.attributes["opted_out_channels"] == ["refusing"]
    # The provider was asked once (the greeting); the menu after it was refused without a call.
    assert [a.error_code for a in attempts] == ["opted_out", "opted_out"]
    assert RefusingChannel.calls == 1
    assert await count(ctx, Message, Message.status == "failed") == 2


async def test_on_sms_only_start_lifts_an_opt_out_elsewhere_any_message_does(
    ctx: Context, workspace: dict[str, str]
) -> None:
    from toonbank.contacts.consent import opted_out as opted_out_of

    connection = to_connection(await api_connection(ctx, workspace["id"]), ctx.secret_box)
    await _say(ctx, connection, "m1", "STOP", opt_out=True)
    async with ctx.db.session() as session:
        [contact_id] = (await session.execute(select(Contact.id))).scalars()
        assert await opted_out_of(session, {contact_id}) == {contact_id: {"api"}}
    await _say(ctx, connection, "m2", "I unblocked you")  # the api channel has no keywords
    async with ctx.db.session() as session:
        assert await opted_out_of(session, {contact_id}) == {}
