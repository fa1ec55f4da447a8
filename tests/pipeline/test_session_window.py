"""Session windows (WhatsApp's 24 hours): free-form replies outside it are not sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from tests.helpers import SECRET, message_payload, post_signed

from toonbank.channels.api import ApiChannel
from toonbank.channels.base import SendResult
from toonbank.channels.connections import create_connection
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import ContactIdentity, Event, Message
from toonbank.pipeline.worker import Worker
from toonbank.simulator.api_channel import ApiReceiver, BackgroundServer


class WindowedChannel(ApiChannel):
    manifest = replace(
        ApiChannel.manifest,
        type="windowed",
        session_window_seconds=24 * 3600,
        capabilities=replace(ApiChannel.manifest.capabilities, template=True),
    )


async def test_free_form_outside_the_window_is_held_back_and_a_template_is_asked_for(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    ctx.channels.register(WindowedChannel())
    sim = ApiReceiver(secret=SECRET)
    with BackgroundServer(sim.app()) as server:
        async with ctx.db.uow() as uow:
            conn = await create_connection(
                uow.session, ctx.secret_box, ctx.channels, workspace_id=workspace["id"],
                type="windowed", name="wa", values={"webhook_secret": SECRET},
                api_base_url=server.url,
            )  # fmt: skip
        await post_signed(app_client, conn.id, message_payload("m1", "cust", "hi"))
        await Worker(ctx).drain()
        assert len(sim.deliveries) == 2  # inside the window: greeting + menu go out
        async with ctx.db.uow() as uow:  # 25 hours pass without the customer writing
            await uow.session.execute(
                update(ContactIdentity).values(last_inbound_at=now() - timedelta(hours=25))
            )
        headers = {"authorization": f"Bearer {workspace['api_key']}"}
        [conversation] = (await app_client.get("/api/v1/conversations", headers=headers)).json()
        url = f"/api/v1/conversations/{conversation['id']}/messages"
        await app_client.post(
            url, json={"content": {"type": "text", "text": "Still there?"}}, headers=headers
        )
        template = {
            "type": "template", "name": "follow_up", "language": "en",
            "fallback_text": "Hi, your stylist has an update.",
        }  # fmt: skip
        await app_client.post(url, json={"content": template}, headers=headers)
        await Worker(ctx).drain()
    assert [d.content["type"] for d in sim.deliveries[2:]] == ["template"]
    async with ctx.db.session() as session:
        free_form = (
            (
                await session.execute(
                    select(Message).where(Message.sender == "agent").order_by(Message.id)
                )
            )
            .scalars()
            .all()
        )
        notices = (
            (await session.execute(select(Event).where(Event.type == "template_required")))
            .scalars()
            .all()
        )
    assert free_form[0].status == "failed" and free_form[0].error_code == "window_closed"
    assert free_form[1].status == "sent"
    assert [n.data["message_id"] for n in notices] == [free_form[0].id]
    assert not notices[0].public  # for the agent/assistant, not shown to the customer


class HumanAgentChannel(ApiChannel):
    """Messenger's rules on the API channel: 24 h for everyone, 7 days for a person's reply."""

    manifest = replace(
        ApiChannel.manifest,
        type="tagged",
        session_window_seconds=24 * 3600,
        human_agent_window_seconds=7 * 24 * 3600,
    )
    tagged: list[bool] = []

    async def send(self, *args: Any, human_agent: bool = False, **kwargs: Any) -> SendResult:
        self.tagged.append(human_agent)
        return await super().send(*args, **kwargs)


async def test_a_late_reply_from_a_person_carries_the_human_agent_tag_within_seven_days(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    adapter = HumanAgentChannel()
    adapter.tagged = []
    ctx.channels.register(adapter)
    sim = ApiReceiver(secret=SECRET)
    headers = {"authorization": f"Bearer {workspace['api_key']}"}

    async def age(hours: int) -> None:
        async with ctx.db.uow() as uow:
            await uow.session.execute(
                update(ContactIdentity).values(last_inbound_at=now() - timedelta(hours=hours))
            )

    with BackgroundServer(sim.app()) as server:
        async with ctx.db.uow() as uow:
            conn = await create_connection(
                uow.session, ctx.secret_box, ctx.channels, workspace_id=workspace["id"],
                type="tagged", name="fb", values={"webhook_secret": SECRET},
                api_base_url=server.url,
            )  # fmt: skip
        await post_signed(app_client, conn.id, message_payload("m1", "cust", "hi"))
        await Worker(ctx).drain()
        assert adapter.tagged == [False, False]  # the bot's greeting + menu, inside 24 h
        [conversation] = (await app_client.get("/api/v1/conversations", headers=headers)).json()
        url = f"/api/v1/conversations/{conversation['id']}/messages"

        async def reply(text: str, sender: str) -> None:
            content = {"type": "text", "text": text}
            response = await app_client.post(
                url, json={"content": content, "sender": sender}, headers=headers
            )
            assert response.status_code in (200, 201, 202), response.text
            await Worker(ctx).drain()

        await age(48)  # two days later
        await reply("Your size is back in stock.", "agent")
        await reply("Automated follow-up", "bot")
        await age(8 * 24)  # eight days later: past the human-agent window too
        await reply("Any news?", "agent")
    assert adapter.tagged == [False, False, True]
    assert [d.content.get("text") for d in sim.deliveries[2:]] == ["Your size is back in stock."]
    async with ctx.db.session() as session:
        late = (
            await session.execute(
                select(Message.sender, Message.status, Message.error_code)
                .where(Message.sender.in_(["agent", "bot"]), Message.direction == "out")
                .order_by(Message.id)
            )
        ).all()
    assert [tuple(r) for r in late[2:]] == [
        ("agent", "sent", None),
        ("bot", "failed", "window_closed"),
        ("agent", "failed", "window_closed"),
    ]
