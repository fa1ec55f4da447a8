"""End to end on a real server with its embedded worker (SQLite and PostgreSQL): a customer in
the web-chat widget, a product found by search and put in the customer's cart (here by an
agent over REST; test_e2e_chat_purchase.py does it all in the chat with the assistant), the
payment link arriving in the widget, payment on the sandbox page, the order confirmation in the
chat, and the signed order webhook at the shop's fulfilment system."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from tests.webchat.test_websocket import Visitor, _frames_until, _messages, _webchat_id

from toonbank.app import create_app
from toonbank.config import Settings
from toonbank.context import Context
from toonbank.simulator.api_channel import BackgroundServer

from .test_api import PRODUCT, auth
from .test_fulfilment import Receiver, receiver_fixture  # noqa: F401  (fixture)
from .test_orders_api import SHIPPING


@pytest.fixture(name="served")
def served_fixture(settings: Settings) -> Iterator[str]:
    app = create_app(settings.model_copy(update={"embedded_worker": True}))
    with BackgroundServer(app) as server:
        yield server.url


def _has(predicate: Any) -> Any:
    return lambda _f, frames: any(predicate(m) for m in _messages(frames))


@pytest.mark.timeout(180)
async def test_widget_customer_buys_pays_and_the_order_reaches_fulfilment(
    ctx: Context, workspace: dict[str, str], served: str, receiver: Receiver
) -> None:
    key = workspace["api_key"]
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
            text = {"type": "text", "text": "linen dress?"}
            await ws.send(
                json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "content": text})
            )
            await _frames_until(ws, _has(lambda m: m["direction"] == "out"), timeout=30)

            [conversation] = (await api.get("/api/v1/conversations", headers=auth(key))).json()
            found = (await api.get("/api/v1/catalog/search?q=linen+dres&size=S&in_stock=true",
                                   headers=auth(key))).json()  # fmt: skip
            [hit] = found["hits"]
            [variant] = hit["variants"]
            cart = (await api.post(f"/api/v1/contacts/{conversation['contact_id']}/cart",
                                   headers=auth(key))).json()  # fmt: skip
            base = f"/api/v1/carts/{cart['id']}"
            line = await api.put(f"{base}/lines/{variant['id']}", json={"quantity": 1},
                                 headers=auth(key))  # fmt: skip
            assert line.status_code == 200, line.text
            await api.patch(base, json={"shipping_method": "postnl", "country": "NL"},
                            headers=auth(key))  # fmt: skip
            order = (await api.post(f"{base}/checkout", headers=auth(key))).json()
            assert order["total"]["amount"] == "74.90"  # 69.95 + 4.95 shipping
            link = await api.post(f"/api/v1/orders/{order['id']}/payments", json={},
                                  headers=auth(key))  # fmt: skip
            assert link.status_code == 200, link.text

            frames = await _frames_until(
                ws, _has(lambda m: m["content"]["type"] == "payment_link"), timeout=30
            )
            [paylink] = [m["content"] for m in _messages(frames)
                         if m["content"]["type"] == "payment_link"]  # fmt: skip
            assert paylink["amount"] == 7490 and paylink["currency"] == "EUR"

            # The customer opens the link and pays on the TEST MODE page.
            async with httpx.AsyncClient(base_url=served) as browser:
                path = httpx.URL(paylink["url"]).path
                page = await browser.get(path)
                assert "TEST MODE" in page.text and "74.90 EUR" in page.text
                [nonce] = re.findall(r'name=csrf value="([^"]+)"', page.text)
                paid = await browser.post(path, data={"action": "pay", "csrf": nonce})
                assert paid.status_code == 303

            frames = await _frames_until(
                ws, _has(lambda m: "received your payment" in m["content"].get("text", "")),
                timeout=30,
            )  # fmt: skip
            assert any(order["number"] in m["content"].get("text", "") for m in _messages(frames))

        for _ in range(300):  # the worker's commerce stage sends it after the commit
            if receiver.received:
                break
            await asyncio.sleep(0.1)
        [got] = receiver.received
        assert receiver.rejected == 0
        assert got["event"] == "order.paid"
        sent = got["body"]["data"]["order"]
        assert sent["number"] == order["number"] and sent["status"] == "paid"
        assert sent["lines"][0]["variant_id"] == variant["id"]
        log: list[dict[str, Any]] = []
        for _ in range(100):  # the attempt is recorded right after the receiver answered
            log = (await api.get(f"/api/v1/fulfilment/deliveries?order_id={order['id']}",
                                 headers=auth(key))).json()  # fmt: skip
            if log and log[0]["status"] != "sending":
                break
            await asyncio.sleep(0.1)
        assert [(d["status"], len(d["log"])) for d in log] == [("delivered", 1)]
