"""Files Toonbank holds are uploaded to WhatsApp and sent by id; elsewhere sent as links."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select
from tests.simulator import connect

from toonbank.context import Context
from toonbank.models import Message
from toonbank.simulator.core import ProviderSimulator


async def _stored_url(ctx: Context, connection_id: str) -> str:
    for _ in range(150):
        async with ctx.db.session() as session:
            url = await session.scalar(
                select(Message.content["url"].as_string()).where(
                    Message.connection_id == connection_id,
                    Message.direction == "in",
                    Message.content["type"].as_string() == "media",
                )
            )
        if url and url.startswith("/media/"):
            return str(url)
        await asyncio.sleep(0.1)
    raise AssertionError("the customer's photo was not copied")


async def test_an_agent_forwards_a_stored_photo_on_whatsapp_by_upload(
    ctx: Context,
    workspace: dict[str, str],
    toonbank_url: str,
    provider_sim: ProviderSimulator,
) -> None:
    account, connection_id = await connect(
        ctx, workspace["id"], provider_sim, "whatsapp", toonbank_url
    )
    customer = provider_sim.customer(account)
    _posted, photo = await customer.sends_image("does this come in blue?")
    await customer.wait_for(1)
    local = await _stored_url(ctx, connection_id)
    before = len(customer.inbox())
    headers = {"authorization": f"Bearer {workspace['api_key']}"}
    async with httpx.AsyncClient(base_url=toonbank_url) as http:
        [conversation] = (await http.get("/api/v1/conversations", headers=headers)).json()
        answer = await http.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"content": {"type": "media", "kind": "image", "url": local, "caption": "Yes!"}},
            headers=headers,
        )
    assert answer.status_code < 300, answer.text
    sent = (await customer.wait_for(before + 1))[before]
    image = sent.body["image"]
    assert "link" not in image  # Meta could not fetch our relative URL: uploaded, sent by id
    uploaded = provider_sim.media_file(image["id"])
    assert uploaded is not None and uploaded.data == photo.data
    assert uploaded.mime_type == "image/png"
    assert image.get("caption") == "Yes!"
