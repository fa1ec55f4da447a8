"""End to end with the assistant, everything in the chat (SQLite and PostgreSQL): a customer in
the web-chat widget asks for a product, taps "Add to cart", checks out and picks a shipping
method, receives the payment link, pays on the sandbox page, gets the order confirmation in
the chat, and the shop's fulfilment system receives the signed order webhook."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
import pytest
import websockets
from tests.webchat.test_websocket import Visitor, _frames_until, _messages, _webchat_id

from toonbank.context import Context
from toonbank.models import Workspace

from .test_api import PRODUCT, auth
from .test_e2e_widget_order import served_fixture  # noqa: F401  (fixture)
from .test_fulfilment import Receiver, receiver_fixture  # noqa: F401  (fixture)
from .test_orders_api import SHIPPING


def _options(content: Any) -> list[dict[str, Any]]:
    """Every tappable option (title + payload) anywhere in a message's content."""
    found: list[dict[str, Any]] = []
    if isinstance(content, dict):
        if isinstance(content.get("title"), str) and isinstance(content.get("payload"), str):
            found.append(content)
        for value in content.values():
            found.extend(_options(value))
    elif isinstance(content, list):
        for value in content:
            found.extend(_options(value))
    return found


class Chat:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, content: dict[str, Any]) -> None:
        frame = {"type": "message", "client_id": str(uuid.uuid4()), "content": content}
        await self.ws.send(json.dumps(frame))

    async def until(self, wanted: Any, timeout: float = 60) -> dict[str, Any]:
        """Read frames until a bot message satisfies ``wanted``; that message's content."""
        found: list[dict[str, Any]] = []

        def match(_frame: Any, frames: list[dict[str, Any]]) -> bool:
            for m in _messages(frames):
                if m["direction"] == "out" and wanted(m["content"]):
                    found.append(m["content"])
                    return True
            return False

        try:
            frames = await _frames_until(self.ws, match, timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"no such reply; the bot said {self.seen[-6:]}") from None
        self.seen.extend(m["content"] for m in _messages(frames) if m["direction"] == "out")
        return found[0]

    async def tap(self, content: dict[str, Any], title: str) -> None:
        options = [o for o in _options(content) if o["title"].casefold() == title.casefold()]
        assert options, f"no {title!r} in {content}"
        await self.send({"type": "reply", "payload": options[0]["payload"], "title": title})


def _offers(title: str) -> Any:
    return lambda c: any(o["title"].casefold() == title.casefold() for o in _options(c))


@pytest.mark.timeout(240)
async def test_customer_finds_adds_checks_out_and_pays_in_the_chat(
    ctx: Context, workspace: dict[str, str], served: str, receiver: Receiver
) -> None:
    key = workspace["api_key"]
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Workspace, workspace["id"])
        assert row is not None
        row.settings = {**(row.settings or {}), "responder": "assistant"}
    async with httpx.AsyncClient(base_url=served, timeout=30) as api:
        assert (await api.post("/api/v1/catalog/products", json={"products": [PRODUCT]},
                               headers=auth(key))).status_code == 200  # fmt: skip
        assert (await api.put("/api/v1/shipping/methods/postnl", json=SHIPPING,
                              headers=auth(key))).status_code == 200  # fmt: skip
        hook = await api.put("/api/v1/fulfilment/endpoints/erp", json={"url": receiver.url},
                             headers=auth(key))  # fmt: skip
        receiver.secret = hook.json()["secret"]

        visitor = Visitor(served, await _webchat_id(ctx, workspace["id"]))
        await visitor.session()
        async with websockets.connect(visitor.ws_url()) as ws:
            await _frames_until(ws, lambda f, _fs: f["type"] == "ready")
            chat = Chat(ws)
            await chat.send({"type": "text", "text": "I'm looking for a red linen dress in size S"})
            results = await chat.until(_offers("Add to cart"))
            assert "Linen midi dress" in json.dumps(results)
            await chat.tap(results, "Add to cart")
            cart = await chat.until(_offers("Check out"))
            await chat.tap(cart, "Check out")
            shipping = await chat.until(lambda c: "PostNL" in json.dumps(c) and _options(c))
            [postnl] = [o for o in _options(shipping) if "PostNL" in o["title"]]
            await chat.send(
                {"type": "reply", "payload": postnl["payload"], "title": postnl["title"]}
            )
            paylink = await chat.until(lambda c: c["type"] == "payment_link")
            assert paylink["amount"] == 7490 and paylink["currency"] == "EUR"  # 69.95 + 4.95

            async with httpx.AsyncClient(base_url=served) as browser:
                path = httpx.URL(paylink["url"]).path
                page = await browser.get(path)
                assert "TEST MODE" in page.text and "74.90 EUR" in page.text
                [nonce] = re.findall(r'name=csrf value="([^"]+)"', page.text)
                paid = await browser.post(path, data={"action": "pay", "csrf": nonce})
                assert paid.status_code == 303
            confirmation = await chat.until(lambda c: "received your payment" in c.get("text", ""))

        [order] = (await api.get("/api/v1/orders", headers=auth(key))).json()
        assert order["status"] == "paid" and order["number"] in confirmation["text"]
        for _ in range(300):  # the worker's commerce stage sends it after the commit
            if receiver.received:
                break
            await asyncio.sleep(0.1)
        [got] = receiver.received
        assert receiver.rejected == 0 and got["event"] == "order.paid"
        assert got["body"]["data"]["order"]["number"] == order["number"]
