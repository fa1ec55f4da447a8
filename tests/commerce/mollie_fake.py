"""A local fake of the Mollie v2 Payments API (the parts Toonbank uses), speaking Mollie's wire
format: HAL JSON payments built on the recorded ``mollie_payment_single.json``
(../shared/reference/payloads), ``_links.checkout``, ``captureMode: manual`` with the captures
API and ``release-authorization``, cancel (``DELETE``), refunds, errors as problem JSON with
``status``/``title``/``detail`` (the recorded ``mollie_error_unauthorized.json``)."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from toonbank.commerce.payments import mollie_provider

PAYLOADS = Path(__file__).parent / "fixtures" / "mollie"  # copies of ../shared/reference/payloads
API_KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"
HAL = "application/hal+json"


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


class FakeMollie:
    def __init__(self) -> None:
        self.payments: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.idempotent: dict[str, str] = {}
        self._ids = itertools.count(1)

    # -- helpers the tests use to play the customer at Mollie's checkout ------------------
    def _set(self, payment_id: str, status: str) -> dict[str, Any]:
        payment = self.payments[payment_id]
        payment["status"] = status
        payment["isCancelable"] = False
        payment[f"{status}At"] = _iso(datetime.now(UTC))
        return payment

    def pay(self, payment_id: str) -> None:
        payment = self._set(payment_id, "paid")
        payment["amountCaptured"] = dict(payment["amount"])
        payment["amountRemaining"] = dict(payment["amount"])

    def authorize(self, payment_id: str) -> None:
        self._set(payment_id, "authorized")

    def start(self, payment_id: str) -> None:
        """The customer is in the bank's flow: pending, no longer cancelable."""
        self._set(payment_id, "pending")

    def expire(self, payment_id: str) -> None:
        self._set(payment_id, "expired")

    def gets(self, payment_id: str) -> int:
        return sum(
            1 for m, p, _ in self.requests if m == "GET" and p == f"/v2/payments/{payment_id}"
        )

    # -- the API --------------------------------------------------------------------------
    @staticmethod
    def error(status: int, title: str, detail: str, field: str | None = None) -> web.Response:
        docs = {"href": "https://docs.mollie.com/overview/handling-errors", "type": "text/html"}
        body: dict[str, Any] = {"status": status, "title": title, "detail": detail,
                                "_links": {"documentation": docs}}  # fmt: skip
        if field:
            body["field"] = field
        return web.json_response(body, status=status, content_type=HAL)

    @staticmethod
    def ok(body: dict[str, Any], status: int = 200) -> web.Response:
        return web.json_response(body, status=status, content_type=HAL)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        data: dict[str, Any] = json.loads(raw) if raw else {}
        self.requests.append((request.method, request.path, data))
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return web.json_response(
                recorded("mollie_error_unauthorized.json"), status=401, content_type=HAL
            )
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["v2", "payments"]:
            return self.error(404, "Not Found", "The resource does not exist")
        if len(parts) == 2 and request.method == "POST":
            return self.create(data, request.headers.get("idempotency-key", ""))
        payment = self.payments.get(parts[2]) if len(parts) > 2 else None
        if payment is None:
            return self.error(404, "Not Found", f"No payment exists with token {parts[2]}.")
        if len(parts) == 3 and request.method == "GET":
            return self.ok(payment)
        if len(parts) == 3 and request.method == "DELETE":
            if not payment["isCancelable"]:
                return self.error(422, "Unprocessable Entity", "The payment cannot be canceled")
            return self.ok(self._set(payment["id"], "canceled"))
        action = parts[3] if len(parts) == 4 else ""
        if action == "captures" and request.method == "POST":
            return self.capture(payment, data)
        if action == "release-authorization" and request.method == "POST":
            if payment["status"] != "authorized":
                return self.error(422, "Unprocessable Entity", "Nothing to release")
            captured = Decimal(payment.get("amountCaptured", {}).get("value", "0"))
            self._set(payment["id"], "paid" if captured else "canceled")
            return self.ok({}, status=202)
        if action == "refunds" and request.method == "POST":
            return self.refund(payment, data)
        return self.error(404, "Not Found", "not faked")

    def create(self, data: dict[str, Any], key: str) -> web.Response:
        if key and key in self.idempotent:
            return self.ok(self.payments[self.idempotent[key]], status=201)
        payment_id = f"tr_Fake{next(self._ids):06d}"
        body = recorded("mollie_payment_single.json")
        for drop in ("amountCaptured", "amountChargedBack", "settlementAmount", "settlementId",
                     "customerId", "mandateId", "subscriptionId", "orderId", "routing",
                     "captureDelay", "captureBefore", "cancelUrl", "method"):  # fmt: skip
            body.pop(drop, None)
        created = datetime.now(UTC)
        links = body["_links"]
        for drop in ("chargebacks", "customer", "mandate", "subscription", "order", "settlement"):
            links.pop(drop, None)
        for name in ("self", "captures", "refunds"):
            links[name]["href"] = links[name]["href"].replace("tr_7UhSN1zuXS", payment_id)
        links["checkout"]["href"] = (
            f"https://www.mollie.com/checkout/select-method/{payment_id[3:]}"
        )
        body.update(
            id=payment_id,
            createdAt=_iso(created),
            expiresAt=_iso(created + timedelta(minutes=15)),
            amount=data["amount"],
            description=data["description"],
            redirectUrl=data["redirectUrl"],
            webhookUrl=data.get("webhookUrl"),
            metadata=data.get("metadata"),
            captureMode=data.get("captureMode", "automatic"),
            status="open",
            isCancelable=True,
            sequenceType="oneoff",
        )
        self.payments[payment_id] = body
        if key:
            self.idempotent[key] = payment_id
        return self.ok(copy.deepcopy(body), status=201)

    def capture(self, payment: dict[str, Any], data: dict[str, Any]) -> web.Response:
        if payment["status"] != "authorized" or payment["captureMode"] != "manual":
            return self.error(422, "Unprocessable Entity", "The payment is not authorized")
        amount = data.get("amount") or payment["amount"]
        if Decimal(amount["value"]) > Decimal(payment["amount"]["value"]):
            return self.error(422, "Unprocessable Entity", "Amount too high", field="amount")
        payment["amountCaptured"] = dict(amount)
        capture_id = f"cpt_Fake{next(self._ids):06d}"
        capture = recorded("mollie_payment_single.json")["_links"]  # reuse HAL link shape
        body = {"resource": "capture", "id": capture_id, "mode": "test", "amount": amount,
                "paymentId": payment["id"], "status": "pending", "createdAt": _iso(
                    datetime.now(UTC)),
                "_links": {"self": {"href": capture["self"]["href"], "type": HAL}}}  # fmt: skip
        return self.ok(body, status=201)

    def refund(self, payment: dict[str, Any], data: dict[str, Any]) -> web.Response:
        amount = data["amount"]
        captured = Decimal(payment.get("amountCaptured", {}).get("value", "0"))
        refunded = Decimal(payment.get("amountRefunded", {}).get("value", "0"))
        if payment["status"] != "paid" or Decimal(amount["value"]) > captured - refunded:
            return self.error(422, "Unprocessable Entity", "Refund too high", field="amount")
        total = refunded + Decimal(amount["value"])
        payment["amountRefunded"] = {"currency": amount["currency"], "value": f"{total:.2f}"}
        refund_id = f"re_Fake{next(self._ids):06d}"
        body = recorded("mollie_payment_single.json")  # only for its HAL links' shape
        return self.ok({"resource": "refund", "id": refund_id, "amount": amount,
                        "status": "pending", "paymentId": payment["id"],
                        "createdAt": _iso(datetime.now(UTC)), "description": "",
                        "_links": {"self": {"href": body["_links"]["self"]["href"], "type": HAL}}},
                       status=201)  # fmt: skip


@pytest.fixture(name="fake_mollie")
async def fake_mollie_fixture(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeMollie]:
    fake = FakeMollie()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setattr(mollie_provider, "API_BASE", f"http://127.0.0.1:{port}")
    yield fake
    await runner.cleanup()
