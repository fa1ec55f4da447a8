"""Session windows (WhatsApp's 24 hours): free-form replies outside it are not sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from tests.helpers import SECRET, message_payload, post_signed

from toonbank.channels.api import ApiChannel
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
