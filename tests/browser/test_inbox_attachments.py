"""An agent attaches an image in the inbox composer (real Chromium); the customer's web-chat
widget, in another browser context, shows it with the composer text as its caption."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.browser.support import Shop

from toonbank.demo import DEMO_EMAIL, DEMO_PASSWORD

pytestmark = pytest.mark.browser


def _png(width: int = 24, height: int = 16) -> bytes:
    """A valid, solid-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes((30, 120, 200)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _customer_writes(page: Page, shop: Shop, text: str) -> str:
    """The visitor writes in the widget; the conversation is handed over to the inbox."""
    page.goto(shop.url + "/")
    composer = page.locator('[data-testid="composer"]')
    expect(composer).to_be_visible()
    composer.fill(text)
    composer.press("Enter")
    expect(page.locator('[data-message-id][data-direction="out"]')).not_to_have_count(0)
    [conversation] = [c for c in shop.api("GET", "/api/v1/conversations") if c["last_message_at"]]
    cid = str(conversation["id"])
    shop.api(
        "POST",
        f"/api/v1/conversations/{cid}/status",
        json={"status": "queued", "reason": "wants to see the fabric"},
    )
    return cid


def test_agent_attaches_an_image_the_widget_shows_it(
    browser: Browser, page: Page, shop: Shop
) -> None:
    cid = _customer_writes(page, shop, "Can I see the linen?")
    agent = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        inbox = agent.new_page()
        errors: list[str] = []
        inbox.on("pageerror", lambda exc: errors.append(str(exc)))
        inbox.goto(f"{shop.url}/inbox")
        inbox.get_by_test_id("login-workspace").fill("demo")
        inbox.get_by_test_id("login-email").fill(DEMO_EMAIL)
        inbox.get_by_test_id("login-password").fill(DEMO_PASSWORD)
        inbox.get_by_test_id("login-submit").click()
        expect(inbox.get_by_test_id("connection")).to_have_text("live", timeout=15_000)
        inbox.get_by_test_id("tab-queue").click()
        inbox.locator(f'[data-conversation-id="{cid}"]').click()
        inbox.get_by_test_id("take").click()
        expect(inbox.locator("#conversation")).to_have_attribute("data-status", "assigned")
        files = inbox.get_by_test_id("attach-input")
        picked = {"name": "linen.png", "mimeType": "image/png", "buffer": _png()}
        # Choose, see it, remove it: nothing is sent.
        files.set_input_files(files=[picked])
        expect(inbox.get_by_test_id("attachment-name")).to_contain_text("linen.png")
        expect(inbox.get_by_test_id("attachment-thumb")).to_be_visible()
        inbox.get_by_test_id("attachment-remove").click()
        expect(inbox.get_by_test_id("attachment")).to_be_hidden()
        expect(inbox.get_by_test_id("attachment-thumb")).to_have_count(0)
        # Choose again, write the caption, send.
        files.set_input_files(files=[picked])
        inbox.get_by_test_id("composer").fill("Our linen, in sand")
        inbox.get_by_test_id("send").click()
        sent = inbox.get_by_test_id("history").locator('[data-sender="agent"][data-type="media"]')
        expect(sent).to_have_count(1)
        expect(sent.locator(".text")).to_have_text("Our linen, in sand")
        expect(sent.get_by_test_id("media-thumb")).to_be_visible()
        expect(inbox.get_by_test_id("attachment")).to_be_hidden()
        expect(inbox.get_by_test_id("composer")).to_have_value("")
        assert errors == []
    finally:
        agent.close()
    # The customer's widget shows the image and its caption.
    shown = page.locator('[data-message-id][data-direction="out"][data-content-type="media"]')
    expect(shown).to_have_count(1, timeout=15_000)
    image = shown.locator("img.media-img")
    expect(image).to_have_attribute("src", re.compile(rf"^{re.escape(shop.url)}/media/\w+$"))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 24", arg=image.element_handle()
    )
    expect(shown.locator(".caption")).to_have_text("Our linen, in sand")
    stored = shop.api("GET", f"/api/v1/conversations/{cid}/messages")
    [media] = [m["content"] for m in stored if m["sender"] == "agent"]
    assert (media["type"], media["kind"], media["mime_type"]) == ("media", "image", "image/png")
    assert media["caption"] == "Our linen, in sand" and media["filename"] == "linen.png"
    assert image.get_attribute("src") == shop.url + media["url"]
