"""The agent inbox in real Chromium against a live server with the demo workspace: log in,
pick up a conversation the assistant handed over, reply, hand back, close; presence between
two agents in two browser contexts."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.browser.support import Shop

from toonbank.channels.api import signed_headers
from toonbank.demo import DEMO_EMAIL, DEMO_PASSWORD

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


def _login(page: Page, shop: Shop, email: str, password: str) -> None:
    page.goto(f"{shop.url}/inbox")
    page.get_by_test_id("login-workspace").fill("demo")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("connection")).to_have_text("live")


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
