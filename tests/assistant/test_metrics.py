"""Assistant metrics from recorded events and transitions (SQLite and PostgreSQL): totals,
per intent and language, the time window, workspace scoping, REST and Prometheus."""

from __future__ import annotations

from datetime import timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import update

from toonbank.assistant.metrics import (
    assistant_metrics,
    record_assistant_turn,
    record_csat,
    record_resolution,
)
from toonbank.auth.service import create_api_key
from toonbank.context import Context
from toonbank.conversations.service import change_status, open_conversation
from toonbank.conversations.states import QUEUED
from toonbank.kit.clock import now
from toonbank.models import Contact, Event
from toonbank.workspaces.service import create_workspace

Turn = tuple[str, str, bool]  # intent, language, fallback


async def conversation(
    ctx: Context,
    workspace_id: str,
    turns: list[Turn],
    *,
    handover: str | None = None,
    resolved: bool | None = None,
    csat: int | None = None,
) -> str:
    async with ctx.db.uow() as uow:
        contact = Contact(workspace_id=workspace_id)
        uow.session.add(contact)
        await uow.session.flush()
        conv = await open_conversation(
            uow, ctx.bus, workspace_id=workspace_id, contact_id=contact.id
        )
        ids = {"workspace_id": workspace_id, "conversation_id": conv.id, "contact_id": contact.id}
        for intent, language, fallback in turns:
            await record_assistant_turn(
                uow, ctx.bus, **ids, intent=intent, language=language, confidence=0.9,
                fallback=fallback,
            )  # fmt: skip
        if handover:
            await change_status(uow, ctx.bus, conv, QUEUED, reason=handover, actor="bot")
        if resolved is not None:
            await record_resolution(uow, ctx.bus, **ids, confirmed=resolved)
        if csat is not None:
            await record_csat(uow, ctx.bus, **ids, score=csat)
    return conv.id


async def seed(ctx: Context, workspace_id: str) -> None:
    await conversation(
        ctx, workspace_id, [("order_status", "en", False), ("goodbye", "en", False)], resolved=True
    )
    await conversation(
        ctx,
        workspace_id,
        [("other", "nl", True), ("human_handover", "nl", False)],
        handover="customer asked for a person",
    )
    await conversation(ctx, workspace_id, [("delivery_info", "nl", False)], csat=5)
    await conversation(ctx, workspace_id, [("return_request", "de", False)], resolved=False)


async def test_metrics_totals_breakdowns_window_and_scope(
    ctx: Context, workspace: dict[str, str]
) -> None:
    ws = workspace["id"]
    async with ctx.db.uow() as uow:
        other, _ = await create_workspace(uow.session, ctx.secret_box, ctx.channels, "other")
    await seed(ctx, ws)
    await conversation(ctx, other.id, [("greeting", "fr", False)], handover="business rule")
    old = await conversation(ctx, ws, [("complaint", "en", False)], handover="negative sentiment")
    async with ctx.db.uow() as uow:  # an old conversation: outside the default window
        await uow.session.execute(
            update(Event)
            .where(Event.conversation_id == old)
            .values(created_at=now() - timedelta(days=30))
        )

    async with ctx.db.session() as session:
        result = await assistant_metrics(session, ws, now() - timedelta(days=7))
    data = result.to_json()
    assert data["conversations"] == 4
    assert (data["automated"], data["automation_rate"]) == (3, 0.75)
    assert (data["confirmed_automated"], data["confirmed_automation_rate"]) == (2, 0.5)
    assert (data["handovers"], data["handover_rate"]) == (1, 0.25)
    assert data["handover_reasons"] == {"customer asked for a person": 1}
    assert (data["turns"], data["fallbacks"], data["fallback_rate"]) == (6, 1, round(1 / 6, 4))
    assert data["csat"] == {"count": 1, "average": 5.0}
    intents = data["per_intent"]
    assert set(intents) == {
        "order_status", "goodbye", "other", "human_handover", "delivery_info", "return_request"
    }  # fmt: skip
    assert intents["human_handover"]["handovers"] == 1 and intents["other"]["handovers"] == 0
    assert intents["other"]["fallback_rate"] == 1.0
    assert intents["order_status"]["automation_rate"] == 1.0
    languages = data["per_language"]
    assert languages["nl"]["conversations"] == 2 and languages["nl"]["handovers"] == 1
    assert languages["nl"]["fallback_rate"] == round(1 / 3, 4)
    assert languages["en"]["automation_rate"] == 1.0 and "fr" not in languages

    async with ctx.db.session() as session:
        wider = await assistant_metrics(session, ws, now() - timedelta(days=60))
        nothing = await assistant_metrics(session, ws, now() + timedelta(minutes=1))
        everyone = await assistant_metrics(session, None, now() - timedelta(days=7))
    assert wider.conversations == 5  # the old conversation is inside the wider window
    assert wider.handover_reasons == {"customer asked for a person": 1, "negative sentiment": 1}
    assert nothing.conversations == 0 and nothing.automation_rate is None
    assert everyone.conversations == 5 and everyone.handovers == 2


async def test_rest_and_prometheus(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    def turns_counter() -> float:
        sample = REGISTRY.get_sample_value(
            "toonbank_assistant_turns_total",
            {"intent": "other", "language": "nl", "fallback": "true"},
        )
        return sample or 0.0

    before = turns_counter()
    await seed(ctx, workspace["id"])
    assert turns_counter() == before + 1
    auth = {"authorization": f"Bearer {workspace['api_key']}"}
    response = await app_client.get("/api/v1/assistant/metrics", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert (body["conversations"], body["automation_rate"], body["handover_rate"]) == (
        4,
        0.75,
        0.25,
    )
    since = (now() + timedelta(hours=1)).isoformat()
    later = await app_client.get("/api/v1/assistant/metrics", params={"since": since}, headers=auth)
    assert later.status_code == 422  # since after until (now)
    async with ctx.db.uow() as uow:
        catalog_only = await create_api_key(uow.session, workspace["id"], ["catalog:read"])
    denied = await app_client.get(
        "/api/v1/assistant/metrics", headers={"authorization": f"Bearer {catalog_only}"}
    )
    assert denied.status_code == 403
    assert (await app_client.get("/api/v1/assistant/metrics")).status_code == 401

    scrape = (await app_client.get("/metrics")).text
    assert 'toonbank_assistant_rate{kind="automation"} 0.75' in scrape
    assert 'toonbank_assistant_rate{kind="handover"} 0.25' in scrape
    assert 'toonbank_assistant_conversations{outcome="confirmed"} 2.0' in scrape
