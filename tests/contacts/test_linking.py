"""One customer across channels: a one-time code joins another channel's identity."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from tests.helpers import api_connection, count, message_payload, post_signed

from toonbank.contacts.linking import parse_link_request
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import Contact, ContactIdentity, Conversation, LinkCode, Message
from toonbank.pipeline.worker import Worker


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("LINK K7M2-Q9XD", "K7M2Q9XD"),
        ("link k7m2q9xd", "K7M2Q9XD"),
        ("  Koppel: K7M2-Q9XD. ", "K7M2Q9XD"),
        ("verknüpfen K7M2-Q9XD", "K7M2Q9XD"),
        ("K7M2-Q9XD", None),  # a bare code is not enough: "GREATEST" would look like one
        ("link me to the blue dress", None),
        ("please LINK K7M2-Q9XD now", None),
        (None, None),
    ],
)
def test_only_an_explicit_link_request_is_read_as_one(text: str | None, code: str | None) -> None:
    assert parse_link_request(text) == code


async def _contact_of(ctx: Context, external_id: str) -> str:
    async with ctx.db.session() as session:
        value = await session.scalar(
            select(ContactIdentity.contact_id).where(ContactIdentity.external_id == external_id)
        )
    assert value is not None
    return str(value)


async def _system_replies(ctx: Context) -> list[str]:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(Message.content).where(Message.sender == "system").order_by(Message.id)
        )
    return [content["text"] for (content,) in rows]


async def test_a_code_from_one_channel_joins_the_other_channels_identity(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    headers = {"authorization": f"Bearer {workspace['api_key']}"}
    whatsapp = await api_connection(ctx, workspace["id"])
    webchat = await api_connection(ctx, workspace["id"])
    await post_signed(app_client, whatsapp.id, message_payload("w1", "+31612345678", "hi"))
    await post_signed(app_client, webchat.id, message_payload("c1", "visitor-9", "hello"))
    await Worker(ctx).drain()
    known = await _contact_of(ctx, "+31612345678")
    visitor = await _contact_of(ctx, "visitor-9")
    assert known != visitor

    issued = await app_client.post(f"/api/v1/contacts/{known}/link-code", headers=headers)
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    assert code in issued.json()["instructions"]
    await post_signed(app_client, webchat.id, message_payload("c2", "visitor-9", f"LINK {code}"))
    await Worker(ctx).drain()

    assert await _contact_of(ctx, "visitor-9") == known
    assert await count(ctx, Contact) == 1
    assert await count(ctx, Conversation, Conversation.closed_at.is_(None)) == 1
    history = await app_client.get(f"/api/v1/contacts/{known}/messages", headers=headers)
    inbound = [m for m in history.json() if m["direction"] == "in"]
    assert [m["content"]["text"] for m in inbound] == ["hi", "hello", f"LINK {code}"]
    assert {m["channel"] for m in history.json()} == {"api"}
    assert [m["id"] for m in history.json()] == sorted(m["id"] for m in history.json())
    profile = (await app_client.get(f"/api/v1/contacts/{known}", headers=headers)).json()
    assert {i["external_id"] for i in profile["identities"]} == {"+31612345678", "visitor-9"}
    # The link request was answered by the link itself, not by the bot.
    assert (await _system_replies(ctx))[-1].startswith("Done: this chat is now linked")
    async with ctx.db.session() as session:
        link_message = await session.scalar(
            select(Message).where(Message.provider_message_id == "c2")
        )
    assert link_message is not None and link_message.status == "processed"

    # The code works once.
    await post_signed(
        app_client, whatsapp.id, message_payload("w2", "+31612345678", f"LINK {code}")
    )
    await Worker(ctx).drain()
    assert (await _system_replies(ctx))[-1].startswith("That code is not valid")


async def test_wrong_and_expired_codes_are_refused_and_guessing_is_capped(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    headers = {"authorization": f"Bearer {workspace['api_key']}"}
    conn = await api_connection(ctx, workspace["id"])
    await post_signed(app_client, conn.id, message_payload("a1", "alice", "hi"))
    await post_signed(app_client, conn.id, message_payload("m1", "mallory", "hi"))
    await Worker(ctx).drain()
    alice = await _contact_of(ctx, "alice")
    code = (await app_client.post(f"/api/v1/contacts/{alice}/link-code", headers=headers)).json()[
        "code"
    ]
    async with ctx.db.uow() as uow:  # 16 minutes later
        await uow.session.execute(update(LinkCode).values(expires_at=now() - timedelta(minutes=1)))
    await post_signed(app_client, conn.id, message_payload("m2", "mallory", f"link {code}"))
    await Worker(ctx).drain()
    assert (await _system_replies(ctx))[-1].startswith("That code has expired")

    fresh = (await app_client.post(f"/api/v1/contacts/{alice}/link-code", headers=headers)).json()
    for i in range(5):  # five wrong guesses
        await post_signed(
            app_client, conn.id, message_payload(f"g{i}", "mallory", "LINK AAAA-BBBB")
        )
    await Worker(ctx).drain()
    await post_signed(
        app_client, conn.id, message_payload("g9", "mallory", f"LINK {fresh['code']}")
    )
    await Worker(ctx).drain()
    # The sixth try is refused even with the right code: no brute force within the hour.
    assert (await _system_replies(ctx))[-1].startswith("Too many attempts")
    assert await _contact_of(ctx, "mallory") != alice
    assert await count(ctx, Contact) == 2


async def test_link_codes_are_scoped_to_the_workspace(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    from toonbank.workspaces.service import create_workspace

    async with ctx.db.uow() as uow:
        _other, other_key = await create_workspace(
            uow.session, ctx.secret_box, ctx.channels, "other"
        )
    conn = await api_connection(ctx, workspace["id"])
    await post_signed(app_client, conn.id, message_payload("a1", "alice", "hi"))
    await Worker(ctx).drain()
    alice = await _contact_of(ctx, "alice")
    foreign = {"authorization": f"Bearer {other_key}"}
    for path in ("", "/messages"):
        response = await app_client.get(f"/api/v1/contacts/{alice}{path}", headers=foreign)
        assert response.status_code == 404
    response = await app_client.post(f"/api/v1/contacts/{alice}/link-code", headers=foreign)
    assert response.status_code == 404
    assert await count(ctx, LinkCode) == 0
