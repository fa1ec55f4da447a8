"""The reply window as the inbox exposes it: WhatsApp closes after 24 h (templates only, the
connection's approved templates offered); Messenger lets a person answer for 7 days with the
HUMAN_AGENT tag; channels without a window are always open."""

from __future__ import annotations

import json
from datetime import timedelta

from toonbank.channels.connections import create_connection
from toonbank.context import Context
from toonbank.inbox.window import templates_of, window_state
from toonbank.kit.clock import now
from toonbank.models import Contact, ContactIdentity, Conversation

META = {"app_secret": "a" * 16, "page_access_token": "p" * 16, "page_id": "1", "verify_token": "v"}
WHATSAPP = {"app_secret": "a" * 16, "access_token": "t" * 16, "phone_number_id": "1"}


async def _conversation(
    ctx: Context, ws: str, kind: str, values: dict, heard_ago: timedelta
) -> str:
    async with ctx.db.uow() as uow:
        connection = await create_connection(
            uow.session,
            ctx.secret_box,
            ctx.channels,
            workspace_id=ws,
            type=kind,
            name=f"{kind}-{heard_ago.total_seconds()}",
            values={**values, "verify_token": "v" * 8},
            api_base_url="http://127.0.0.1:9",
        )
        contact = Contact(workspace_id=ws, attributes={})
        uow.session.add(contact)
        await uow.session.flush()
        uow.session.add(
            ContactIdentity(
                workspace_id=ws,
                contact_id=contact.id,
                channel_type=kind,
                external_id=f"x-{contact.id}",
                connection_id=connection.id,
                last_inbound_at=now() - heard_ago,
            )
        )
        conversation = Conversation(
            workspace_id=ws,
            contact_id=contact.id,
            status="assigned",
            bot_state={},
            last_connection_id=connection.id,
        )
        uow.session.add(conversation)
        await uow.session.flush()
        return conversation.id


async def _window(ctx: Context, cid: str) -> dict:
    async with ctx.db.session() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None
        return await window_state(ctx, session, conversation)


async def test_whatsapp_closes_after_a_day(ctx: Context, workspace: dict[str, str]) -> None:
    ws = workspace["id"]
    fresh = await _conversation(ctx, ws, "whatsapp", WHATSAPP, timedelta(hours=2))
    stale = await _conversation(ctx, ws, "whatsapp", WHATSAPP, timedelta(hours=25))
    open_ = await _window(ctx, fresh)
    assert open_["open"] is True and open_["human_agent_tag"] is False and open_["closes_at"]
    closed = await _window(ctx, stale)
    assert closed["open"] is False and closed["templates_only"] is True
    assert closed["reason"] == "window_closed" and "approved template" in closed["hint"]


async def test_messenger_human_agent_tag_for_seven_days(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    standard = await _conversation(ctx, ws, "messenger", META, timedelta(hours=3))
    tagged = await _conversation(ctx, ws, "messenger", META, timedelta(days=3))
    gone = await _conversation(ctx, ws, "messenger", META, timedelta(days=8))
    assert (await _window(ctx, standard))["human_agent_tag"] is False
    state = await _window(ctx, tagged)
    assert state["open"] is True and state["human_agent_tag"] is True
    assert (await _window(ctx, gone))["open"] is False


def test_templates_from_a_list_or_json_text() -> None:
    listed = templates_of({"templates": [{"name": "hello", "language": "nl"}, "bye", 5]})
    assert [(t["name"], t["language"]) for t in listed] == [("hello", "nl"), ("bye", "en")]
    text = json.dumps([{"name": "order_update", "text": "News", "variables": 2}])
    [parsed] = templates_of({"templates": text})
    assert (parsed["name"], parsed["text"], parsed["variables"]) == ("order_update", "News", 2)
    assert [t["name"] for t in templates_of({"templates": "a, b"})] == ["a", "b"]
    assert templates_of({}) == []
