"""The agent inbox in real Chromium against a live server with the demo workspace: log in,
pick up a conversation the assistant handed over, reply, hand back, close; sell from the inbox
(product carousel, cart, payment link paid in another browser context, seen live); the closed
reply window offering templates; presence between two agents in two browser contexts."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from tests.browser.support import Shop

from toonbank.channels.api import signed_headers
from toonbank.config import Settings
from toonbank.context import create_context
from toonbank.demo import DEMO_EMAIL, DEMO_PASSWORD
from toonbank.kit.clock import now
from toonbank.models import Contact, ContactIdentity, Conversation, Workspace

pytestmark = pytest.mark.browser
SECRET = "whsec-browser-0123456789"


def _queued_conversation(shop: Shop, text: str) -> str:
    channel = shop.api(
        "POST",
        "/api/v1/channels",
        json={
            "type": "api",
            "name": f"api-{time.monotonic_ns()}",
            "settings": {"webhook_secret": SECRET},
        },
    )
    body = json.dumps(
        {
            "messages": [
                {
                    "id": f"m-{time.monotonic_ns()}",
                    "from": "cust-1",
                    "name": "Ann <b>x</b>",
                    "timestamp": int(time.time()),
                    "content": {"type": "text", "text": text},
                }
            ]
        }
    ).encode()
    response = httpx.post(
        f"{shop.url}/webhooks/{channel['id']}", content=body, headers=signed_headers(SECRET, body)
    )
    response.raise_for_status()
    for _ in range(200):
        rows = [c for c in shop.api("GET", "/api/v1/conversations") if c["status"] == "bot"]
        mine = [c for c in rows if c.get("last_message_at")]
        if mine:
            break
        time.sleep(0.05)
    [conversation] = mine
    for _ in range(100):  # let the assistant answer first, then the handover
        messages = shop.api("GET", f"/api/v1/conversations/{conversation['id']}/messages")
        if any(m["direction"] == "out" for m in messages):
            break
        time.sleep(0.05)
    shop.api(
        "POST",
        f"/api/v1/conversations/{conversation['id']}/status",
        json={"status": "queued", "reason": "asked for a stylist"},
    )
    return str(conversation["id"])


def _handed_over_by_the_assistant(
    shop: Shop, text: str
) -> tuple[str, Callable[[dict[str, Any]], None]]:
    """The customer writes, the assistant answers, the customer picks "Talk to a person" in
    the assistant's menu: the assistant hands the conversation over (queued)."""
    channel = shop.api(
        "POST",
        "/api/v1/channels",
        json={"type": "api", "name": "handover", "settings": {"webhook_secret": SECRET}},
    )

    def customer(content: dict[str, Any]) -> None:
        body = json.dumps(
            {
                "messages": [
                    {
                        "id": f"m-{time.monotonic_ns()}",
                        "from": "cust-7",
                        "name": "Nora",
                        "timestamp": int(time.time()),
                        "content": content,
                    }
                ]
            }
        ).encode()
        response = httpx.post(
            f"{shop.url}/webhooks/{channel['id']}",
            content=body,
            headers=signed_headers(SECRET, body),
        )
        response.raise_for_status()

    customer({"type": "text", "text": text})
    for _ in range(200):
        rows = [c for c in shop.api("GET", "/api/v1/conversations") if c.get("last_message_at")]
        if rows:
            break
        time.sleep(0.05)
    [conversation] = rows
    cid = str(conversation["id"])
    customer({"type": "reply", "payload": "menu:human", "title": "Talk to a person"})
    for _ in range(200):
        if shop.api("GET", f"/api/v1/conversations/{cid}")["status"] == "queued":
            return cid, customer
        time.sleep(0.05)
    raise AssertionError("the assistant did not hand the conversation over")


def _login(page: Page, shop: Shop, email: str, password: str) -> None:
    page.goto(f"{shop.url}/inbox")
    page.get_by_test_id("login-workspace").fill("demo")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("connection")).to_have_text("live", timeout=15_000)


def test_pick_up_reply_hand_back_close(page: Page, shop: Shop) -> None:
    cid = _queued_conversation(shop, "<img src=x onerror=alert(1)> I need a stylist")
    response = page.goto(f"{shop.url}/inbox")
    assert (
        response is not None and "default-src 'none'" in response.headers["content-security-policy"]
    )
    _login(page, shop, DEMO_EMAIL, DEMO_PASSWORD)
    page.get_by_test_id("tab-queue").click()
    page.locator(f'[data-conversation-id="{cid}"]').click()
    history = page.get_by_test_id("history")
    expect(history.locator('[data-direction="in"] .text')).to_have_text(
        ["<img src=x onerror=alert(1)> I need a stylist"]
    )  # shown as text, never as markup
    assert page.locator("img").count() == 0
    page.get_by_test_id("take").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "assigned")
    page.get_by_test_id("composer").fill("Happy to help — what is the occasion?")
    page.get_by_test_id("send").click()
    expect(history.locator('[data-sender="agent"] .text')).to_have_text(
        ["Happy to help — what is the occasion?"]
    )
    stored = shop.api("GET", f"/api/v1/conversations/{cid}/messages")
    agent_replies = [m for m in stored if m["sender"] == "agent"]
    assert [m["content"]["text"] for m in agent_replies] == [
        "Happy to help — what is the occasion?"
    ]
    page.get_by_test_id("hand-back").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "bot")
    assert shop.api("GET", f"/api/v1/conversations/{cid}")["status"] == "bot"
    page.get_by_test_id("take").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "assigned")
    page.get_by_test_id("close-reason").fill("advice given")
    page.get_by_test_id("close").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "closed")
    closed = shop.api("GET", f"/api/v1/conversations/{cid}")
    assert closed["status"] == "closed"


def test_two_agents_see_each_others_presence(browser: Browser, shop: Shop) -> None:
    shop.api(
        "POST",
        "/api/v1/agents",
        json={
            "email": "sue@demo.test",
            "password": "sue-password",
            "role": "supervisor",
            "display_name": "Sue",
        },
    )
    cid = _queued_conversation(shop, "Which size?")
    contexts = [browser.new_context() for _ in range(2)]
    try:
        first, second = (c.new_page() for c in contexts)
        _login(first, shop, DEMO_EMAIL, DEMO_PASSWORD)
        _login(second, shop, "sue@demo.test", "sue-password")
        for page in (first, second):
            page.get_by_test_id("tab-queue").click()
            page.locator(f'[data-conversation-id="{cid}"]').click()
        expect(first.get_by_test_id("presence")).to_have_text("Sue is viewing")
        expect(second.get_by_test_id("presence")).to_have_text("Demo Stylist is viewing")
        second.get_by_test_id("composer").press("a")
        expect(first.get_by_test_id("presence")).to_have_text("Sue is typing")
        second.close()
        expect(first.get_by_test_id("presence")).to_have_text("")
    finally:
        for c in contexts:
            c.close()


# ------------------------------------------------------------------------------------------
# Selling from the inbox, and the reply window
# ------------------------------------------------------------------------------------------
def _run(coro_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_fn())).result(timeout=60)


def test_sell_pay_hand_back_and_close(
    browser: Browser, page: Page, shop: Shop, artifacts: Path
) -> None:
    cid, _customer = _handed_over_by_the_assistant(shop, "I am looking for a summer dress")
    _login(page, shop, DEMO_EMAIL, DEMO_PASSWORD)
    page.get_by_test_id("tab-queue").click()
    row = page.locator(f'[data-conversation-id="{cid}"]')
    expect(row.get_by_test_id("row-sla")).to_contain_text("SLA first reply")
    row.click()
    page.get_by_test_id("take").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "assigned")
    # Search the catalog, send two products as a carousel.
    page.get_by_test_id("catalog-query").fill("")
    page.get_by_test_id("catalog-search").click()
    picks = page.get_by_test_id("pick-product")
    expect(picks.first).to_be_visible()
    titles = [
        page.locator("[data-testid=catalog-results] li").nth(i).inner_text() for i in range(2)
    ]
    picks.nth(0).check()
    picks.nth(1).check()
    page.get_by_test_id("send-products").click()
    history = page.get_by_test_id("history")
    expect(history.locator('[data-sender="agent"]')).not_to_have_count(0)
    stored = shop.api("GET", f"/api/v1/conversations/{cid}/messages")
    sent = [m for m in stored if m["sender"] == "agent"]
    assert sent and all(t.split(" · ")[0].strip() in json.dumps(sent) for t in titles)
    # Build the cart, pick shipping, send the payment link.
    page.get_by_test_id("add-to-cart").first.click()
    expect(page.get_by_test_id("cart-lines").locator("li")).to_have_count(1)
    shipping = page.get_by_test_id("shipping-method")
    codes = [
        v for v in shipping.locator("option").evaluate_all("(os) => os.map((o) => o.value)") if v
    ]
    shipping.select_option(codes[0])
    expect(shipping).to_have_value(codes[0])
    page.get_by_test_id("payment-link").click()
    expect(history.locator('[data-type="payment_link"]')).to_have_count(1)
    order = page.get_by_test_id("orders").locator("li")
    expect(order).to_have_attribute("data-order-status", "pending")
    # The customer pays on the sandbox page (another browser context); the agent sees it live.
    links = [
        m["content"]
        for m in shop.api("GET", f"/api/v1/conversations/{cid}/messages")
        if m["content"]["type"] == "payment_link"
    ]
    pay_path = httpx.URL(links[0]["url"]).path
    customer = browser.new_context()
    try:
        pay = customer.new_page()
        pay.goto(f"{shop.url}{pay_path}")
        pay.get_by_role("button", name=re.compile("^Pay")).click()
        expect(pay.locator("body")).to_contain_text("payment was received")
    finally:
        customer.close()
    expect(order).to_have_attribute("data-order-status", "paid")
    page.screenshot(path=str(artifacts / "inbox-selling.png"), full_page=True)
    # Hand back to the assistant, take it again, close with a reason.
    page.get_by_test_id("hand-back").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "bot")
    page.get_by_test_id("take").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "assigned")
    page.get_by_test_id("close-reason").fill("sold")
    page.get_by_test_id("close").click()
    expect(page.locator("#conversation")).to_have_attribute("data-status", "closed")
    closed = shop.api("GET", f"/api/v1/conversations/{cid}")
    assert closed["status"] == "closed"


def test_closed_window_offers_templates(page: Page, shop: Shop, settings: Settings) -> None:
    channel = shop.api(
        "POST",
        "/api/v1/channels",
        json={
            "type": "whatsapp",
            "name": "wa",
            "api_base_url": "http://127.0.0.1:9",  # never leaves this machine
            "settings": {
                "app_secret": "s" * 16,
                "access_token": "t" * 16,
                "phone_number_id": "123",
                "verify_token": "v" * 16,
                "templates": json.dumps(
                    [{"name": "order_update", "language": "en", "text": "News about your order"}]
                ),
            },
        },
    )

    async def seed() -> str:
        ctx = create_context(settings)
        await ctx.start()
        try:
            async with ctx.db.uow() as uow:
                workspace_id = channel.get("workspace_id") or (
                    await uow.session.scalar(select(Workspace.id).where(Workspace.name == "demo"))
                )
                contact = Contact(workspace_id=workspace_id, display_name="Wim", attributes={})
                uow.session.add(contact)
                await uow.session.flush()
                uow.session.add(
                    ContactIdentity(
                        workspace_id=workspace_id,
                        contact_id=contact.id,
                        channel_type="whatsapp",
                        external_id="31600000000",
                        connection_id=channel["id"],
                        last_inbound_at=now() - timedelta(days=2),
                    )
                )
                conversation = Conversation(
                    workspace_id=workspace_id,
                    contact_id=contact.id,
                    status="queued",
                    bot_state={},
                    last_connection_id=channel["id"],
                    queued_at=now(),
                )
                uow.session.add(conversation)
                await uow.session.flush()
                return conversation.id
        finally:
            await ctx.close()

    cid = _run(seed)
    _login(page, shop, DEMO_EMAIL, DEMO_PASSWORD)
    page.get_by_test_id("tab-queue").click()
    page.locator(f'[data-conversation-id="{cid}"]').click()
    page.get_by_test_id("take").click()
    window = page.get_by_test_id("window")
    expect(window).to_have_attribute("data-open", "false")
    expect(page.get_by_test_id("window-text")).to_contain_text("only an approved template")
    expect(page.get_by_test_id("templates")).to_contain_text("News about your order")
    page.get_by_test_id("composer").fill("Hello?")
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("error")).to_contain_text("only an approved template")
    page.get_by_test_id("send-template").click()
    expect(page.get_by_test_id("history").locator('[data-type="template"]')).to_have_count(1)
    stored = shop.api("GET", f"/api/v1/conversations/{cid}/messages")
    assert [m["content"]["name"] for m in stored if m["sender"] == "agent"] == ["order_update"]


def test_labels_filter_and_csat(page: Page, shop: Shop) -> None:
    cid, customer = _handed_over_by_the_assistant(shop, "Where is my parcel?")
    _login(page, shop, DEMO_EMAIL, DEMO_PASSWORD)
    page.get_by_test_id("tab-queue").click()
    page.locator(f'[data-conversation-id="{cid}"]').click()
    page.keyboard.press("t")  # keyboard: take
    expect(page.locator("#conversation")).to_have_attribute("data-status", "assigned")
    page.get_by_test_id("label-input").fill("Delivery")
    page.get_by_test_id("label-add").click()
    expect(page.get_by_test_id("labels").locator("[data-label]")).to_have_count(1)
    expect(page.locator('[data-testid="labels"] [data-label="delivery"]')).to_have_count(1)
    page.get_by_test_id("tab-mine").click()
    page.get_by_test_id("filter-label").fill("delivery")
    page.get_by_test_id("filter-apply").click()
    expect(page.locator("[data-conversation-id]")).to_have_count(1)
    page.get_by_test_id("filter-label").fill("billing")
    page.get_by_test_id("filter-apply").click()
    expect(page.locator("[data-conversation-id]")).to_have_count(0)
    page.get_by_test_id("csat").click()
    expect(page.get_by_test_id("history").locator('[data-sender="agent"] .text')).to_contain_text(
        ["How would you rate our help today?"]
    )
    expect(page.get_by_test_id("csat-score")).to_have_text("asked, no answer yet")
    customer({"type": "reply", "payload": f"csat:{cid}:5", "title": "5"})
    # The server's worker collects the answer within seconds; the panel shows it live.
    expect(page.get_by_test_id("csat-score")).to_have_text("5 / 5", timeout=20_000)
