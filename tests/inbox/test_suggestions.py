"""Reply suggestions, decisions, learning and canned responses against a live server: what an
agent gets and does, what is learned, and what other workspaces and weaker roles cannot see
or do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from tests.assistant.llm_server import FakeLLM
from tests.helpers import api_connection, message_payload, post_signed
from tests.inbox.helpers import make_agent, queued_conversations
from tests.knowledge.helpers import WARRANTY_EN

from toonbank.app import create_app
from toonbank.config import Settings
from toonbank.context import Context
from toonbank.inbox.suggestions import service
from toonbank.knowledge import upsert_articles
from toonbank.models import (
    Agent,
    AnswerEntry,
    CannedResponse,
    Conversation,
    Message,
    Order,
    SuggestionDecision,
)
from toonbank.simulator.api_channel import BackgroundServer
from toonbank.workspaces.service import create_workspace

PASSWORD = "password-123"
BASE = "/api/v1/inbox"


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    app = create_app(settings.model_copy(update={"embedded_worker": True}))
    with BackgroundServer(app) as server:
        yield server.url


@dataclass
class World:
    url: str
    ws: dict[str, str]
    other: dict[str, str]
    connection_id: str


async def _login(url: str, workspace: str, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=30)
    response = await client.post(
        "/auth/login", json={"workspace": workspace, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return client


async def _ask(ctx: Context, world: World, sender: str, text: str) -> str:
    """The customer ``sender`` writes ``text``; returns their (queued, English) conversation."""
    async with ctx.db.session() as session:
        seen = await session.scalar(select(func.coalesce(func.max(Message.id), 0)))
    async with httpx.AsyncClient(base_url=world.url, timeout=10) as client:
        response = await post_signed(
            client, world.connection_id, message_payload(f"m-{time.monotonic_ns()}", sender, text)
        )
        assert response.status_code == 200, response.text
        key = {"authorization": f"Bearer {world.ws['api_key']}"}
        for _ in range(200):
            async with ctx.db.session() as session:
                found = await session.scalar(
                    select(Message.conversation_id)
                    .where(
                        Message.workspace_id == world.ws["id"],
                        Message.direction == "in",
                        Message.content["text"].as_string() == text,
                        Message.id > seen,
                    )
                    .order_by(Message.id.desc())
                    .limit(1)
                )
            if found:
                break
            await asyncio.sleep(0.05)
        assert found
        async with ctx.db.uow() as uow:
            await uow.session.execute(
                update(Conversation).where(Conversation.id == found).values(language="en")
            )
        status = (await client.get(f"/api/v1/conversations/{found}", headers=key)).json()
        if status["status"] == "bot":
            handover = await client.post(
                f"/api/v1/conversations/{found}/status",
                json={"status": "queued", "reason": "customer asked for a person"},
                headers=key,
            )
            assert handover.status_code == 200, handover.text
        return str(found)


async def _order(ctx: Context, conversation_id: str, number: str, tracking: str) -> None:
    async with ctx.db.uow() as uow:
        conversation = await uow.session.get(Conversation, conversation_id)
        assert conversation is not None
        uow.session.add(
            Order(
                workspace_id=conversation.workspace_id,
                contact_id=conversation.contact_id,
                number=number,
                status="shipped",
                currency="EUR",
                subtotal_minor=4990,
                total_minor=4990,
                carrier="PostNL",
                tracking_number=tracking,
                shipping_address={},
            )
        )


@pytest.fixture
async def world(ctx: Context, served: str, workspace: dict[str, str]) -> AsyncIterator[World]:
    yield await _world(ctx, served, workspace)


async def _world(ctx: Context, served: str, workspace: dict[str, str]) -> World:
    async with ctx.db.uow() as uow:
        other, other_key = await create_workspace(
            uow.session, ctx.secret_box, ctx.channels, "rival"
        )
    for email, role in (
        ("ann@a.test", "agent"),
        ("bob@a.test", "agent"),
        ("sue@a.test", "supervisor"),
    ):
        await make_agent(ctx, workspace["id"], email, role=role, availability="offline")
    await make_agent(ctx, other.id, "eve@r.test", role="owner", availability="offline")
    connection = await api_connection(ctx, workspace["id"])
    return World(served, workspace, {"id": other.id, "api_key": other_key}, connection.id)


async def test_suggest_send_edit_learn_and_reuse_for_the_next_customer(
    ctx: Context, world: World
) -> None:
    ann = await _login(world.url, "acme", "ann@a.test")
    cid = await _ask(ctx, world, "cust-1", "Where is my order?")
    await _order(ctx, cid, "TB-123", "3SABC123")
    assert (await ann.post(f"{BASE}/conversations/{cid}/take")).status_code == 200
    got = (await ann.get(f"{BASE}/conversations/{cid}/suggestions")).json()
    assert got["question"] == "Where is my order?"
    texts = [s["text"] for s in got["suggestions"]]
    shipped = "Your order TB-123 was shipped with PostNL, tracking number 3SABC123."
    assert shipped in texts, texts
    fact = got["suggestions"][texts.index(shipped)]
    assert fact["sources"][0]["type"] == "order" and fact["sources"][0]["number"] == "TB-123"
    # The same suggestions again (stored once, not recomputed).
    again = (await ann.get(f"{BASE}/conversations/{cid}/suggestions")).json()
    assert [s["id"] for s in again["suggestions"]] == [s["id"] for s in got["suggestions"]]
    edited = f"Hi Ann! {shipped} Enjoy your new shoes."
    sent = await ann.post(
        f"{BASE}/conversations/{cid}/suggestions/{fact['id']}/send", json={"text": edited}
    )
    assert sent.status_code == 202, sent.text
    decision = sent.json()["decision"]
    assert decision["action"] == "edited" and decision["original"] == shipped
    assert decision["final"] == edited and decision["edit_distance"] == len(edited) - len(shipped)
    assert 0.5 < decision["similarity"] < 1
    [message] = sent.json()["messages"]
    async with ctx.db.session() as session:
        stored = await session.get(Message, message["id"])
        assert stored is not None and stored.sender == "agent"
        assert stored.content["text"] == edited
        [entry] = (await session.execute(select(AnswerEntry))).scalars()
    # Learned as a template: this customer's facts became variables.
    assert entry.answer == (
        "Hi {{contact.first_name}}! Your order {{order.number}} was shipped with PostNL, "
        "tracking number {{order.tracking_number}}. Enjoy your new shoes."
    )
    assert (entry.learned_from, entry.language, entry.question) == (
        "edited",
        "en",
        "Where is my order?",
    )
    again = await ann.post(f"{BASE}/conversations/{cid}/suggestions/{fact['id']}/send", json={})
    assert again.status_code == 409  # decided already
    # The next customer asks differently and gets the learned answer with *their* facts.
    cid2 = await _ask(ctx, world, "cust-2", "Where is my parcel? It has not arrived")
    await _order(ctx, cid2, "TB-456", "XYZ789")
    assert (await ann.post(f"{BASE}/conversations/{cid2}/take")).status_code == 200
    got2 = (await ann.get(f"{BASE}/conversations/{cid2}/suggestions")).json()
    learned = [s for s in got2["suggestions"] if s["sources"][0]["type"] == "answer"]
    assert [s["text"] for s in learned] == [
        "Hi Ann! Your order TB-456 was shipped with PostNL, tracking number XYZ789. "
        "Enjoy your new shoes."
    ]
    assert {s["type"] for s in learned[0]["sources"]} == {"answer", "order"}
    # Sent as is: accepted, the entry is strengthened, no new entry.
    ok = await ann.post(f"{BASE}/conversations/{cid2}/suggestions/{learned[0]['id']}/send")
    assert ok.status_code == 202 and ok.json()["decision"]["action"] == "accepted"
    assert ok.json()["decision"]["edit_distance"] == 0
    async with ctx.db.session() as session:
        entries = list((await session.execute(select(AnswerEntry))).scalars())
        assert [(e.accepted, e.edited) for e in entries] == [(1, 1)]
    # Rejecting the other suggestion is stored too.
    others = [s for s in got2["suggestions"] if s["id"] != learned[0]["id"]]
    assert others, got2
    rejected = await ann.post(f"{BASE}/conversations/{cid2}/suggestions/{others[0]['id']}/reject")
    assert rejected.status_code == 200 and rejected.json()["decision"]["action"] == "rejected"
    async with ctx.db.session() as session:
        actions = (
            await session.execute(select(SuggestionDecision.action).order_by(SuggestionDecision.id))
        ).scalars()
        assert list(actions) == ["edited", "accepted", "rejected"]
    await ann.aclose()


async def test_rejection_demotes_and_agents_written_replies_are_learned(
    ctx: Context, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "WRITTEN_GRACE", timedelta(0))
    ann = await _login(world.url, "acme", "ann@a.test")
    cid = await _ask(ctx, world, "cust-1", "Do you ship to Belgium?")
    assert (await ann.post(f"{BASE}/conversations/{cid}/take")).status_code == 200
    assert (await ann.get(f"{BASE}/conversations/{cid}/suggestions")).json()["suggestions"] == []
    answer = "Yes, we ship to Belgium; shipping is free from 50 euros."
    reply = await ann.post(f"{BASE}/conversations/{cid}/messages", json={"text": answer})
    assert reply.status_code == 202
    # Any look at suggestions learns it (once, however often one looks).
    for _ in range(2):
        await ann.get(f"{BASE}/conversations/{cid}/suggestions")
    async with ctx.db.session() as session:
        written = list(
            (
                await session.execute(
                    select(SuggestionDecision).where(SuggestionDecision.action == "written")
                )
            ).scalars()
        )
        assert [(d.final, d.conversation_id) for d in written] == [(answer, cid)]
        [entry] = (await session.execute(select(AnswerEntry))).scalars()
        assert (entry.question, entry.answer, entry.learned_from) == (
            "Do you ship to Belgium?",
            answer,
            "written",
        )
    cid3 = await _ask(ctx, world, "cust-3", "Can you deliver to Belgium?")
    assert (await ann.post(f"{BASE}/conversations/{cid3}/take")).status_code == 200
    got = (await ann.get(f"{BASE}/conversations/{cid3}/suggestions")).json()
    [suggestion] = got["suggestions"]
    assert suggestion["text"] == answer and suggestion["sources"][0]["id"] == entry.id
    before = suggestion["score"]
    rejected = await ann.post(f"{BASE}/conversations/{cid3}/suggestions/{suggestion['id']}/reject")
    assert rejected.status_code == 200
    async with ctx.db.session() as session:
        demoted = await session.get(AnswerEntry, entry.id)
        assert demoted is not None and demoted.rejected == 1 and demoted.penalty > 0
    cid4 = await _ask(ctx, world, "cust-4", "Can you deliver to Belgium?")
    assert (await ann.post(f"{BASE}/conversations/{cid4}/take")).status_code == 200
    [lower] = (await ann.get(f"{BASE}/conversations/{cid4}/suggestions")).json()["suggestions"]
    assert lower["score"] == pytest.approx(before - demoted.penalty, abs=1e-3)
    await ann.aclose()


async def test_canned_responses(ctx: Context, world: World) -> None:
    ann = await _login(world.url, "acme", "ann@a.test")
    sue = await _login(world.url, "acme", "sue@a.test")
    eve = await _login(world.url, "rival", "eve@r.test")
    body = {
        "title": "Returns",
        "shortcut": "/returns",
        "language": "en",
        "body": "Hi {{contact.first_name}}, returns are free within 30 days. {{ agent.name }}",
    }
    bad = await sue.post(f"{BASE}/canned", json={**body, "body": "{{contact.password}} {{x}}"})
    assert bad.status_code == 422 and bad.json()["unknown"] == ["contact.password", "x"]
    assert (await ann.post(f"{BASE}/canned", json=body)).status_code == 403
    created = await sue.post(f"{BASE}/canned", json=body)
    assert created.status_code == 201, created.text
    canned_id = created.json()["id"]
    assert (await sue.post(f"{BASE}/canned", json=body)).status_code == 409  # same shortcut
    listed = (await ann.get(f"{BASE}/canned", params={"q": "/ret"})).json()
    assert [c["id"] for c in listed] == [canned_id]
    assert (await ann.get(f"{BASE}/canned", params={"q": "nothing"})).json() == []
    assert (await eve.get(f"{BASE}/canned")).json() == []
    cid = await _ask(ctx, world, "cust-1", "How do I return my jacket?")
    assert (await ann.post(f"{BASE}/conversations/{cid}/take")).status_code == 200
    rendered = await ann.post(f"{BASE}/canned/{canned_id}/render", json={"conversation_id": cid})
    assert rendered.json() == {
        "text": "Hi Ann, returns are free within 30 days. ann",
        "unknown": [],
        "missing": [],
    }
    # The canned response is offered as a suggestion for a matching question, with its source.
    got = (await ann.get(f"{BASE}/conversations/{cid}/suggestions")).json()
    canned = [s for s in got["suggestions"] if s["sources"][0]["type"] == "canned"]
    assert [s["sources"][0]["shortcut"] for s in canned] == ["/returns"]
    # Agents use, supervisors manage; another workspace sees nothing.
    for method, path, payload in (
        ("PUT", f"{BASE}/canned/{canned_id}", body),
        ("DELETE", f"{BASE}/canned/{canned_id}", None),
    ):
        assert (await ann.request(method, path, json=payload)).status_code == 403
        assert (await eve.request(method, path, json=payload)).status_code == 404
    foreign = await eve.post(f"{BASE}/canned/{canned_id}/render", json={"conversation_id": cid})
    assert foreign.status_code == 404
    changed = await sue.put(f"{BASE}/canned/{canned_id}", json={**body, "title": "Free returns"})
    assert changed.status_code == 200 and changed.json()["title"] == "Free returns"
    assert (await sue.delete(f"{BASE}/canned/{canned_id}")).status_code == 204
    async with ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(CannedResponse)) == 0
    for client in (ann, sue, eve):
        await client.aclose()


async def test_workspaces_and_roles_are_enforced(ctx: Context, world: World) -> None:
    ann = await _login(world.url, "acme", "ann@a.test")
    bob = await _login(world.url, "acme", "bob@a.test")
    sue = await _login(world.url, "acme", "sue@a.test")
    eve = await _login(world.url, "rival", "eve@r.test")  # owner, but of another workspace
    anonymous = httpx.AsyncClient(base_url=world.url, timeout=10)
    cid = await _ask(ctx, world, "cust-1", "Where is my order?")
    await _order(ctx, cid, "TB-9", "TRACK9")
    assert (await ann.post(f"{BASE}/conversations/{cid}/take")).status_code == 200
    [first, *_] = (await ann.get(f"{BASE}/conversations/{cid}/suggestions")).json()["suggestions"]
    base = f"{BASE}/conversations/{cid}/suggestions"
    actions: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", base, None),
        ("POST", f"{base}/{first['id']}/send", {"text": "x"}),
        ("POST", f"{base}/{first['id']}/reject", None),
    ]
    for method, path, body in actions:
        assert (await eve.request(method, path, json=body)).status_code == 404, path
        assert (await bob.request(method, path, json=body)).status_code == 404, path  # ann's
        assert (await anonymous.request(method, path, json=body)).status_code == 401, path
    # A supervisor sees all; the assignee acts; a suggestion id from elsewhere is not found.
    assert (await sue.get(base)).status_code == 200
    assert (await ann.post(f"{base}/not-a-suggestion/reject")).status_code == 404
    forged = await ann.post(f"{base}/{first['id']}/reject", headers={"origin": "http://evil.test"})
    assert forged.status_code == 403
    sent = await ann.post(f"{base}/{first['id']}/send", json={"text": "On its way!"})
    assert sent.status_code == 202
    # Learning review: supervisors only, own workspace only.
    assert (await ann.get(f"{BASE}/learning/answers")).status_code == 403
    assert (await ann.get(f"{BASE}/learning/decisions")).status_code == 403
    learned = (await sue.get(f"{BASE}/learning/answers")).json()
    assert learned["total"] == 1 and learned["answers"][0]["answer"] == "On its way!"
    entry_id = learned["answers"][0]["id"]
    [decision] = (await sue.get(f"{BASE}/learning/decisions")).json()
    assert decision["action"] == "edited" and decision["final"] == "On its way!"
    assert (await eve.get(f"{BASE}/learning/answers")).json() == {"total": 0, "answers": []}
    assert (await eve.get(f"{BASE}/learning/decisions")).json() == []
    assert (await eve.delete(f"{BASE}/learning/answers/{entry_id}")).status_code == 404
    assert (await ann.delete(f"{BASE}/learning/answers/{entry_id}")).status_code == 403
    assert (await anonymous.delete(f"{BASE}/learning/answers/{entry_id}")).status_code == 401
    async with ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(AnswerEntry)) == 1
    assert (await sue.delete(f"{BASE}/learning/answers/{entry_id}")).status_code == 204
    assert (await sue.get(f"{BASE}/learning/answers")).json()["total"] == 0
    for client in (ann, bob, sue, eve, anonymous):
        await client.aclose()


async def test_a_suggestion_that_cannot_be_sent_stays_open(ctx: Context, world: World) -> None:
    """No channel to reach the customer: nothing sent, stored or learned; it can be used later."""
    async with ctx.db.session() as session:
        ann_id = await session.scalar(select(Agent.id).where(Agent.email == "ann@a.test"))
    [cid] = await queued_conversations(ctx, world.ws["id"], 1, status="assigned", language="en")
    async with ctx.db.uow() as uow:
        conversation = await uow.session.get(Conversation, cid)
        assert conversation is not None
        conversation.assigned_agent_id = ann_id
        uow.session.add(
            Message(
                workspace_id=world.ws["id"],
                conversation_id=cid,
                contact_id=conversation.contact_id,
                direction="in",
                sender="contact",
                content={"type": "text", "text": "Where is my order?"},
                status="processed",
            )
        )
    await _order(ctx, cid, "TB-7", "TRACK7")
    ann = await _login(world.url, "acme", "ann@a.test")
    [first, *_] = (await ann.get(f"{BASE}/conversations/{cid}/suggestions")).json()["suggestions"]
    failed = await ann.post(f"{BASE}/conversations/{cid}/suggestions/{first['id']}/send")
    assert failed.status_code == 409 and failed.json()["error"] == "no_channel"
    after = (await ann.get(f"{BASE}/conversations/{cid}/suggestions")).json()["suggestions"]
    assert after[0]["id"] == first["id"] and after[0]["status"] == "open"
    async with ctx.db.session() as session:
        for table in (SuggestionDecision, AnswerEntry):
            assert await session.scalar(select(func.count()).select_from(table)) == 0
        sent = await session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "out")
        )
        assert sent == 0
    rejected = await ann.post(f"{BASE}/conversations/{cid}/suggestions/{first['id']}/reject")
    assert rejected.status_code == 200
    twice = await ann.post(f"{BASE}/conversations/{cid}/suggestions/{first['id']}/reject")
    assert twice.status_code == 409 and twice.json()["error"] == "already_decided"
    await ann.aclose()


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture
def llm_served(settings: Settings, llm: FakeLLM) -> Iterator[str]:
    """The server with the generative layer on (the drafting generator installed at start)."""
    on = {"llm_enabled": True, "llm_base_url": llm.base_url, "llm_model": "ok", "llm_timeout": 5}
    app = create_app(settings.model_copy(update={"embedded_worker": True, **on}))
    with BackgroundServer(app) as server:
        yield server.url


async def test_a_drafted_reply_is_suggested_with_its_sources_never_an_invented_price(
    ctx: Context, llm: FakeLLM, llm_served: str, workspace: dict[str, str]
) -> None:
    world = await _world(ctx, llm_served, workspace)
    async with ctx.db.uow() as uow:
        await upsert_articles(uow.session, workspace["id"], [WARRANTY_EN])
    ann = await _login(world.url, "acme", "ann@a.test")
    cid = await _ask(ctx, world, "cust-1", "Is there a warranty when the zip breaks?")
    assert (await ann.post(f"{BASE}/conversations/{cid}/take")).status_code == 200
    llm.reply = "Yes: a broken zip is covered by our two-year warranty [1]."
    llm.requests.clear()
    got = (await ann.get(f"{BASE}/conversations/{cid}/suggestions")).json()["suggestions"]
    [draft] = [s for s in got if s["sources"][0]["type"] == "generated"]
    assert draft["text"] == "Yes: a broken zip is covered by our two-year warranty."
    quoted = next(s for s in got if s["sources"][0]["type"] == "knowledge")
    assert draft["sources"] == [{"type": "generated", "provider": "llm:ok"}, quoted["sources"][0]]
    assert quoted["sources"][0]["title"] == "Warranty"
    [request] = llm.requests  # grounded in the retrieved candidates, numbered for citation
    system = request["messages"][0]["content"]
    assert "[1] Article: Warranty: All products have a two-year warranty" in system
    assert request["messages"][1]["content"] == "Is there a warranty when the zip breaks?"

    # A draft stating a price no candidate contains is dropped; the retrieved ones stay.
    cid2 = await _ask(ctx, world, "cust-2", "Does the warranty cover a broken zip?")
    assert (await ann.post(f"{BASE}/conversations/{cid2}/take")).status_code == 200
    llm.reply = "Yes, and a new zip costs only €19.99 [1]."
    llm.requests.clear()
    got2 = (await ann.get(f"{BASE}/conversations/{cid2}/suggestions")).json()["suggestions"]
    assert len(llm.requests) == 1
    assert [s for s in got2 if s["sources"][0]["type"] == "knowledge"]
    assert not [s for s in got2 if any(x["type"] == "generated" for x in s["sources"])]
    assert not [s for s in got2 if "19.99" in s["text"]]
    await ann.aclose()
