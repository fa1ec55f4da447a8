"""Reply suggestions in real Chromium: the agent sends one suggestion as is (the customer's
order facts), edits another (a canned response), and reviews what was learned."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.support import Shop

from toonbank.channels.api import signed_headers
from toonbank.config import Settings
from toonbank.context import create_context
from toonbank.demo import DEMO_EMAIL, DEMO_PASSWORD
from toonbank.models import Conversation, Order

pytestmark = pytest.mark.browser
SECRET = "whsec-browser-0123456789"


def _in_thread(settings: Settings, conversation_id: str) -> None:
    """Give the customer a shipped order (what a shop integration would have stored)."""

    async def run() -> None:
        ctx = create_context(settings)
        await ctx.start()
        try:
            async with ctx.db.uow() as uow:
                conversation = await uow.session.get(Conversation, conversation_id)
                assert conversation is not None
                conversation.language = "en"
                uow.session.add(
                    Order(
                        workspace_id=conversation.workspace_id,
                        contact_id=conversation.contact_id,
                        number="TB-123",
                        status="shipped",
                        currency="EUR",
                        subtotal_minor=4990,
                        total_minor=4990,
                        carrier="PostNL",
                        tracking_number="3SABC123",
                        shipping_address={},
                    )
                )
        finally:
            await ctx.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(run())).result(timeout=60)


def _customer_says(shop: Shop, channel_id: str, text: str) -> None:
    body = json.dumps(
        {
            "messages": [
                {
                    "id": f"m-{time.monotonic_ns()}",
                    "from": "cust-1",
                    "name": "Ann",
                    "timestamp": int(time.time()),
                    "content": {"type": "text", "text": text},
                }
            ]
        }
    ).encode()
    response = httpx.post(
        f"{shop.url}/webhooks/{channel_id}", content=body, headers=signed_headers(SECRET, body)
    )
    response.raise_for_status()


def _queued(shop: Shop, settings: Settings, text: str) -> tuple[str, str]:
    channel = shop.api(
        "POST",
        "/api/v1/channels",
        json={"type": "api", "name": "api-ai", "settings": {"webhook_secret": SECRET}},
    )
    _customer_says(shop, channel["id"], text)
    for _ in range(200):
        rows = [c for c in shop.api("GET", "/api/v1/conversations") if c.get("last_message_at")]
        if rows:
            break
        time.sleep(0.05)
    [conversation] = rows
    cid = str(conversation["id"])
    for _ in range(100):  # the assistant answers first, then hands over
        if any(
            m["direction"] == "out"
            for m in shop.api("GET", f"/api/v1/conversations/{cid}/messages")
        ):
            break
        time.sleep(0.05)
    shop.api(
        "POST", f"/api/v1/conversations/{cid}/status", json={"status": "queued", "reason": "x"}
    )
    _in_thread(settings, cid)
    return cid, str(channel["id"])


def test_agent_uses_one_suggestion_and_edits_another(
    page: Page, shop: Shop, settings: Settings
) -> None:
    owner = httpx.Client(base_url=shop.url, timeout=30)
    owner.post(
        "/auth/login",
        json={"workspace": "demo", "email": DEMO_EMAIL, "password": DEMO_PASSWORD},
    ).raise_for_status()
    owner.post(
        "/api/v1/inbox/canned",
        json={
            "title": "Returns",
            "shortcut": "/returns",
            "language": "en",
            "body": "Hi {{contact.first_name}}, returns are free within 30 days. {{agent.name}}",
        },
    ).raise_for_status()
    cid, channel_id = _queued(shop, settings, "Where is my order?")
    page.goto(f"{shop.url}/inbox")
    page.get_by_test_id("login-workspace").fill("demo")
    page.get_by_test_id("login-email").fill(DEMO_EMAIL)
    page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("connection")).to_have_text("live")
    page.get_by_test_id("tab-queue").click()
    page.locator(f'[data-conversation-id="{cid}"]').click()
    page.get_by_test_id("take").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "assigned")
    shipped = "Your order TB-123 was shipped with PostNL, tracking number 3SABC123."
    card = page.get_by_test_id("suggestion").filter(has_text=shipped)
    expect(card.locator('[data-source-type="order"]')).to_have_text(
        "order TB-123 (shipped, PostNL 3SABC123)", timeout=30_000
    )  # the first suggestion of a process loads the encoder
    card.get_by_test_id("suggestion-send").click()
    history = page.get_by_test_id("history")
    expect(history.locator('[data-sender="agent"] .text')).to_have_text([shipped])
    # The customer asks something else: new suggestions, one from the canned response.
    _customer_says(shop, channel_id, "How do I return my jacket?")
    expect(history.locator('[data-direction="in"] .text').last).to_have_text(
        "How do I return my jacket?"
    )
    canned = page.get_by_test_id("suggestion").filter(
        has=page.locator('[data-source-type="canned"]')
    )
    expect(canned.get_by_test_id("suggestion-text")).to_have_text(
        "Hi Ann, returns are free within 30 days. Demo Stylist"
    )
    canned.get_by_test_id("suggestion-edit").click()
    editor = page.get_by_test_id("suggestion-editor")
    edited = "Hi Ann, returns are free within 30 days: start one under My orders. Demo Stylist"
    editor.fill(edited)
    page.get_by_test_id("suggestion-send-edited").click()
    expect(history.locator('[data-sender="agent"] .text')).to_have_text([shipped, edited])
    decisions = owner.get("/api/v1/inbox/learning/decisions").json()
    assert [(d["action"], d["final"]) for d in decisions] == [
        ("edited", edited),
        ("accepted", shipped),
    ]
    assert decisions[0]["edit_distance"] > 0 and decisions[1]["edit_distance"] == 0
    # The owner reviews what was learned (facts became variables) and removes one entry.
    page.get_by_test_id("learning-open").click()
    answers = page.get_by_test_id("learned-answer")
    expect(answers).to_have_count(2)
    expect(answers.filter(has_text="{{order.number}}")).to_have_count(1)
    page.get_by_test_id("learned-remove").first.click()
    expect(answers).to_have_count(1)
    assert owner.get("/api/v1/inbox/learning/answers").json()["total"] == 1
    owner.close()
