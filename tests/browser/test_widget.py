"""The web-chat widget in real Chromium, against a live server with the demo shop.

What a visitor sees: chatting with buttons, the history after a reload (complete, in order,
no duplicates), exactly-once delivery across dropped connections and lost acks, image upload,
and message text that is never interpreted as HTML.

Playwright's CSS engine pierces the widget's open shadow root, so plain ``[data-…]`` selectors
find the test hooks described in docs/webchat-protocol.md (section 7).
"""

from __future__ import annotations

import json
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect
from tests.browser.support import PageErrors, Shop

from toonbank.responders.placeholder import TEXTS

pytestmark = pytest.mark.browser

EN = TEXTS["en"]
GREETING = EN["greeting"]
MENU = EN["menu"]
CHOSEN_ORDER = EN["chosen"].format(title=EN["order"])
WS_URL = re.compile(r"/webchat/[^/]+/ws\b")


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------
def status(page: Page) -> Locator:
    return page.locator('[data-testid="status"]')


def composer(page: Page) -> Locator:
    return page.locator('[data-testid="composer"]')


def rendered(page: Page) -> Locator:
    """Every message the server confirmed (pending bubbles have no message id yet)."""
    return page.locator("[data-message-id]")


def bubble(page: Page, direction: str, text: str) -> Locator:
    """Rows (pending or confirmed) of one direction whose bubble text is exactly ``text``."""
    return page.locator(f'.msg[data-direction="{direction}"]').filter(
        has=page.locator(".bubble > .text").get_by_text(text, exact=True)
    )


def confirmed(page: Page, direction: str, text: str) -> Locator:
    return bubble(page, direction, text).and_(page.locator("[data-message-id]"))


def open_shop(page: Page, shop: Shop) -> None:
    page.goto(shop.url + "/")
    expect(composer(page)).to_be_visible()  # the demo page opens the panel (data-open="true")
    expect(status(page)).to_have_attribute("data-state", "open")
    expect(status(page)).to_have_text("Online")


def send_text(page: Page, text: str) -> None:
    composer(page).fill(text)
    composer(page).press("Enter")
    expect(composer(page)).to_have_value("")


def say_hi(page: Page) -> None:
    """The first message: the bot greets and shows its menu."""
    send_text(page, "hi")
    expect(confirmed(page, "in", "hi")).to_have_count(1)
    expect(confirmed(page, "out", GREETING)).to_have_count(1)
    expect(page.locator('[data-content-type="quick_replies"]')).to_have_count(1)


def chat_until_order_status(page: Page) -> None:
    say_hi(page)
    menu = page.locator('[data-message-id][data-content-type="quick_replies"]').first
    menu.first.locator('button[data-payload="menu:order"]').click()
    expect(confirmed(page, "in", EN["order"])).to_have_count(1)
    expect(confirmed(page, "out", CHOSEN_ORDER)).to_have_count(1)
    expect(page.locator('[data-content-type="quick_replies"]')).to_have_count(2)


def history(page: Page) -> list[dict[str, Any]]:
    return rendered(page).evaluate_all(
        """rows => rows.map((row) => ({
            id: row.dataset.messageId,
            direction: row.dataset.direction,
            type: row.dataset.contentType,
            text: (row.querySelector('.bubble > .text') || {}).textContent || null,
        }))"""
    )


def widget_state(page: Page) -> dict[str, Any]:
    return page.evaluate("() => window.ToonbankWidget.state()")


def wait_outbox_empty(page: Page) -> None:
    page.wait_for_function("() => window.ToonbankWidget.state().outbox.length === 0")


def wait_until(page: Page, predicate: Any, what: str, timeout: float = 10.0) -> None:
    """Poll a Python-side condition; Playwright dispatches route callbacks while it waits."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        page.wait_for_timeout(20)


def png(width: int = 24, height: int = 24, rgb: tuple[int, int, int] = (109, 40, 217)) -> bytes:
    """A valid, solid-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@dataclass
class SocketGate:
    """A man-in-the-middle for the widget's WebSocket (``page.route_web_socket``).

    * ``hold``: new sockets are not connected to the server (they stay silent: never ready),
      so the widget is offline until :meth:`release`.
    * ``cut_text``: the first message frame with this text is kept back (not forwarded) and
      the page's socket is closed at once, as if the connection dropped right after sending,
      before any ack; :meth:`deliver_late` later hands that original frame to the server on
      its (still open) old connection.
    """

    hold: bool = False
    cut_text: str | None = None
    held: list[WebSocketRoute] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # message frames the page sent
    acks: list[tuple[int, str]] = field(default_factory=list)  # (connection no., client_id)
    late: tuple[WebSocketRoute, str] | None = None
    cut_connection: int = 0
    connections: int = 0

    def handle(self, route: WebSocketRoute) -> None:
        self.connections += 1
        number = self.connections
        if self.hold:
            self.held.append(route)
            return
        server = route.connect_to_server()
        page_closed = False

        def from_page(message: str | bytes) -> None:
            nonlocal page_closed
            frame = json.loads(message)
            if frame.get("type") == "message":
                self.sent.append(frame)
                text = frame["content"].get("text")
                if self.cut_text is not None and text == self.cut_text and self.late is None:
                    self.late = (server, str(message))
                    self.cut_connection = number
                    page_closed = True
                    route.close(code=4000, reason="test: connection lost")
                    return
            server.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "ack":
                self.acks.append((number, frame["client_id"]))
            if not page_closed:
                route.send(message)

        def page_closing(code: int | None, reason: str | None) -> None:
            if self.late is None or self.late[0] is not server:
                server.close(code=code, reason=reason)  # keep the cut connection open

        route.on_message(from_page)
        route.on_close(page_closing)
        server.on_message(from_server)

    def release(self) -> None:
        self.hold = False
        for route in self.held:
            route.close(code=4000, reason="test: back online")
        self.held.clear()

    def deliver_late(self, page: Page) -> str:
        """Send the kept-back original to the server; wait for its ack; return its client_id."""
        assert self.late is not None, "nothing was cut"
        server, message = self.late
        client_id = str(json.loads(message)["client_id"])
        server.send(message)
        wait_until(
            page,
            lambda: (self.cut_connection, client_id) in self.acks,
            "the server acked the late original",
        )
        server.close()
        return client_id


# ------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------
def test_chat_with_quick_replies(page: Page, shop: Shop, artifacts: Path) -> None:
    open_shop(page, shop)
    expect(page.locator('[data-testid="launcher"]')).to_be_visible()

    send_text(page, "hi")
    # The visitor's bubble is shown at once, then replaced in place by the stored message.
    mine = bubble(page, "in", "hi")
    expect(mine).to_have_count(1)
    expect(mine).to_have_attribute("data-message-id", re.compile(r"^\d+$"))
    expect(mine).not_to_have_attribute("data-pending", "true")
    expect(mine).to_have_attribute("data-client-id", re.compile(r"^[0-9a-f-]{36}$"))

    expect(confirmed(page, "out", GREETING)).to_be_visible()
    menu = page.locator('[data-message-id][data-content-type="quick_replies"]')
    expect(menu).to_have_count(1)
    expect(menu.locator(".bubble > .text")).to_have_text(MENU)
    buttons = menu.first.locator("button[data-payload]")
    expect(buttons).to_have_text([EN["browse"], EN["order"], EN["human"]])
    for button in buttons.all():
        expect(button).to_be_enabled()

    menu.first.locator('button[data-payload="menu:order"]').click()
    expect(confirmed(page, "in", EN["order"])).to_have_count(1)
    expect(confirmed(page, "out", CHOSEN_ORDER)).to_be_visible()

    # The answered question's buttons are disabled (the chosen one marked); the new menu is live.
    for button in buttons.all():
        expect(button).to_be_disabled()
    expect(menu.first.locator('button[data-payload="menu:order"]')).to_have_attribute(
        "data-chosen", "true"
    )
    expect(menu).to_have_count(2)
    for button in menu.nth(1).locator("button[data-payload]").all():
        expect(button).to_be_enabled()

    assert [(m["direction"], m["type"]) for m in history(page)] == [
        ("in", "text"),
        ("out", "text"),
        ("out", "quick_replies"),
        ("in", "reply"),
        ("out", "text"),
        ("out", "quick_replies"),
    ]
    # The newest message is scrolled into view.
    expect(page.locator(".msg").last).to_be_in_viewport()
    page.screenshot(path=str(artifacts / "widget.png"))


def test_reload_shows_the_full_history_once_in_order(page: Page, shop: Shop) -> None:
    open_shop(page, shop)
    chat_until_order_status(page)
    before = history(page)
    assert len(before) == 6

    page.reload()
    expect(status(page)).to_have_attribute("data-state", "open")  # replay done (after "ready")
    expect(rendered(page)).to_have_count(len(before))
    after = history(page)
    assert after == before
    ids = [int(m["id"]) for m in after]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [m["text"] for m in after] == [
        "hi",
        GREETING,
        MENU,
        EN["order"],
        CHOSEN_ORDER,
        MENU,
    ]
    for text in ("hi", GREETING, EN["order"], CHOSEN_ORDER):
        expect(bubble(page, "in" if text in ("hi", EN["order"]) else "out", text)).to_have_count(1)
    expect(page.locator('[data-pending="true"]')).to_have_count(0)
    # Replayed answers disable their question again; the last menu stays answerable.
    menus = page.locator('[data-content-type="quick_replies"]')
    for button in menus.nth(0).locator("button[data-payload]").all():
        expect(button).to_be_disabled()
    for button in menus.nth(1).locator("button[data-payload]").all():
        expect(button).to_be_enabled()
    state = widget_state(page)
    assert state["connected"] is True and state["outbox"] == []
    assert len(state["renderedEventIds"]) == len(set(state["renderedEventIds"]))


def test_message_sent_while_disconnected_is_delivered_once(page: Page, shop: Shop) -> None:
    gate = SocketGate()
    page.route_web_socket(WS_URL, gate.handle)
    open_shop(page, shop)
    say_hi(page)

    gate.hold = True  # the server is unreachable until release()
    page.evaluate("() => window.ToonbankWidget.disconnect()")
    expect(status(page)).to_have_attribute("data-state", "reconnecting")
    expect(status(page)).to_have_text("Reconnecting…")
    wait_until(page, lambda: gate.held, "the widget tried to reconnect (and got no answer)")
    expect(status(page)).to_have_attribute("data-state", "reconnecting")

    text = "sent while offline"
    send_text(page, text)
    pending = bubble(page, "in", text)
    expect(pending).to_have_count(1)
    expect(pending).to_have_attribute("data-pending", "true")
    state = widget_state(page)
    assert state["connected"] is False
    assert [e["content"] for e in state["outbox"]] == [{"type": "text", "text": text}]
    assert not [f for f in gate.sent if f["content"].get("text") == text]

    gate.release()
    expect(status(page)).to_have_attribute("data-state", "open")
    expect(confirmed(page, "in", text)).to_have_count(1)
    echo = EN["echo"].format(text=text)
    expect(confirmed(page, "out", echo)).to_have_count(1)
    wait_outbox_empty(page)
    expect(bubble(page, "in", text)).to_have_count(1)
    expect(page.locator('[data-pending="true"]')).to_have_count(0)
    assert shop.inbound_texts().count(text) == 1
    assert [m["content"].get("text") for m in shop.stored_messages()].count(echo) == 1
    expect(bubble(page, "out", echo)).to_have_count(1)


def test_lost_ack_is_resent_with_the_same_client_id_and_stored_once(page: Page, shop: Shop) -> None:
    text = "are you there?"
    gate = SocketGate(cut_text=text)
    page.route_web_socket(WS_URL, gate.handle)
    open_shop(page, shop)
    say_hi(page)

    # The connection drops right after the page sent the message, before any ack.
    send_text(page, text)
    expect(confirmed(page, "in", text)).to_have_count(1)  # re-sent after reconnecting
    expect(status(page)).to_have_attribute("data-state", "open")
    echo = EN["echo"].format(text=text)
    expect(confirmed(page, "out", echo)).to_have_count(1)
    wait_outbox_empty(page)

    frames = [f for f in gate.sent if f["content"].get("text") == text]
    assert len(frames) == 2, "the outbox must re-send the unacknowledged message"
    assert len({f["client_id"] for f in frames}) == 1, "a re-send keeps the original client_id"
    assert gate.connections >= 2

    # The original copy finally reaches the server too: acked again, but not stored twice.
    client_id = gate.deliver_late(page)
    assert client_id == frames[0]["client_id"]
    acked_on = [n for n, c in gate.acks if c == client_id]
    assert acked_on[0] > gate.cut_connection, "the re-sent copy is acked on the new connection"
    assert acked_on[-1] == gate.cut_connection, "the late original is acked (a duplicate)"
    stored = [m for m in shop.stored_messages() if m["direction"] == "in"]
    assert [m["content"].get("text") for m in stored].count(text) == 1
    assert [m["provider_message_id"] for m in stored].count(client_id) == 1
    assert [m["content"].get("text") for m in shop.stored_messages()].count(echo) == 1
    expect(bubble(page, "in", text)).to_have_count(1)
    expect(bubble(page, "out", echo)).to_have_count(1)
    expect(bubble(page, "in", text)).to_have_attribute("data-client-id", client_id)


def test_image_upload(page: Page, shop: Shop) -> None:
    open_shop(page, shop)
    page.locator('input[type="file"]').set_input_files(
        files=[{"name": "swatch.png", "mimeType": "image/png", "buffer": png()}]
    )
    image = page.locator(
        '[data-message-id][data-direction="in"][data-content-type="media"] img.media-img'
    )
    expect(image).to_have_count(1)
    expect(image).to_have_attribute("src", re.compile(rf"^{re.escape(shop.url)}/media/\w+$"))
    expect(image).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 24", arg=image.element_handle()
    )
    expect(confirmed(page, "out", EN["media"].format(kind="image"))).to_have_count(1)

    [stored] = [m for m in shop.stored_messages() if m["direction"] == "in"]
    assert stored["content"]["type"] == "media" and stored["content"]["kind"] == "image"
    assert stored["content"]["url"].startswith("/media/")
    assert image.get_attribute("src") == shop.url + stored["content"]["url"]


def test_message_text_is_never_html(page: Page, shop: Shop, page_errors: PageErrors) -> None:
    page.add_init_script("window.__xss = 0;")
    open_shop(page, shop)
    say_hi(page)

    payload = "<img src=x onerror=alert(1)>"
    send_text(page, payload)
    expect(confirmed(page, "in", payload)).to_have_count(1)
    expect(confirmed(page, "out", EN["echo"].format(text=payload))).to_have_count(1)
    send_text(page, "<b onmouseover=window.__xss=1>bold</b><script>window.__xss=2</script>")

    expect(rendered(page)).to_have_count(7)
    expect(page.locator("[data-message-id] img")).to_have_count(0)
    expect(page.locator("[data-message-id] b, [data-message-id] script")).to_have_count(0)
    assert page.evaluate("() => window.__xss") == 0
    assert page_errors.dialogs == []
