"""The sandbox provider's hosted payment page: ``GET /pay/{token}`` (TEST MODE, Pay / Fail).

Everything shown is HTML-escaped. The form is protected against cross-site posts with a
double-submit token: a random value in a ``SameSite=Strict``, ``HttpOnly`` cookie scoped to
this page that the POST must echo in a hidden field (compared in constant time). Only
payments of the ``sandbox`` provider have a page; an unknown token answers 404.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from toonbank.api.deps import get_ctx
from toonbank.api.errors import ApiError
from toonbank.commerce.money import Money
from toonbank.commerce.payments import service
from toonbank.commerce.payments.port import (
    AUTHORIZED,
    FAILED,
    OPEN,
    PAID,
    PaymentError,
    WebhookRejected,
)
from toonbank.context import Context
from toonbank.kit.crypto import constant_time_equal, new_secret
from toonbank.models import Order, Payment, PaymentAccount

router = APIRouter(tags=["payments"], include_in_schema=False)
COOKIE = "toonbank_pay_csrf"
HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}"
    ".test{background:#b00020;color:#fff;font-weight:700;padding:.5rem;text-align:center}"
    "button{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        "<div class=test role=alert>TEST MODE - no real money is moved</div>"
        f"{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status, headers=HEADERS)


async def _load(ctx: Context, token: str, *, any_provider: bool = False) -> tuple[Payment, Order]:
    async with ctx.db.session() as session:
        payment = await service.by_token(session, token)
        order = await session.get(Order, payment.order_id) if payment else None
    if payment is None or order is None:
        raise ApiError(404, "not_found", "no such payment")
    if payment.provider != "sandbox" and not any_provider:
        raise ApiError(404, "not_found", "no such payment")
    return payment, order


@router.get("/pay/{token}")
async def pay_page(token: str, ctx: Context = Depends(get_ctx)) -> Response:
    payment, order = await _load(ctx, token)
    if payment.status == OPEN and service.is_expired(payment):
        async with ctx.db.uow() as uow:
            fresh = await uow.session.get(Payment, payment.id)
            assert fresh is not None
            await service.expire_if_due(ctx, uow, fresh)
            payment = fresh
    amount = Money(payment.amount_minor, payment.currency)
    summary = (
        f"<h1>Order {html.escape(order.number)}</h1>"
        f"<p>Amount: <strong>{html.escape(str(amount))}</strong></p>"
    )
    if payment.status != OPEN:
        return _page("Payment", summary + f"<p>This payment is {html.escape(payment.status)}.</p>")
    nonce = new_secret(18)
    verb = "Authorise" if payment.capture == "manual" else "Pay"
    form = (
        f'<form method=post action="/pay/{html.escape(token)}">'
        f'<input type=hidden name=csrf value="{html.escape(nonce)}">'
        f"<button name=action value=pay>{verb} {html.escape(str(amount))}</button>"
        "<button name=action value=fail>Fail</button></form>"
    )
    response = _page("Payment (test mode)", summary + form)
    response.set_cookie(
        COOKIE, nonce, httponly=True, samesite="strict", path=f"/pay/{token}", max_age=3600,
        secure=ctx.settings.public_url.startswith("https://"),
    )  # fmt: skip
    return response


@router.post("/pay/{token}")
async def pay_submit(
    token: str,
    request: Request,
    action: str = Form(max_length=8),
    csrf: str = Form(max_length=64),
    ctx: Context = Depends(get_ctx),
) -> Response:
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not constant_time_equal(cookie, csrf):
        return _page("Payment", "<p>This form has expired; reload the page.</p>", status=403)
    if action not in ("pay", "fail"):
        return _page("Payment", "<p>Unknown action.</p>", status=422)
    payment, _order = await _load(ctx, token)
    async with ctx.db.uow() as uow:
        row = await uow.session.get(Payment, payment.id)
        assert row is not None
        if not await service.expire_if_due(ctx, uow, row):
            success = AUTHORIZED if row.capture == "manual" else PAID
            target = FAILED if action == "fail" else success
            await service.apply_status(ctx, uow, row, target, actor="sandbox")
    response = RedirectResponse(f"/pay/{token}/done", status_code=303)
    response.delete_cookie(COOKIE, path=f"/pay/{token}")
    return response


@router.get("/pay/{token}/done")
async def pay_done(token: str, ctx: Context = Depends(get_ctx)) -> Response:
    """Where every provider sends the customer back. When the provider's webhook has not
    arrived yet, the payment is fetched from the provider (recorded like that webhook)."""
    payment, order = await _load(ctx, token, any_provider=True)
    if payment.status == OPEN and payment.provider != "sandbox":
        try:
            async with ctx.db.uow() as uow:
                row = await uow.session.get(Payment, payment.id)
                assert row is not None
                await service.refresh(ctx, uow, row)
                payment = row
        except PaymentError:
            pass  # the provider is unreachable: show what is known; its webhook will follow
    text = {
        PAID: "Thank you, your payment was received.",
        AUTHORIZED: "Thank you, the amount is reserved; you pay only for what you keep.",
        FAILED: "The payment failed. You can try again from the chat.",
    }.get(payment.status, f"This payment is {payment.status}.")
    return _page("Payment", f"<h1>Order {html.escape(order.number)}</h1><p>{html.escape(text)}</p>")


@router.post("/webhooks/payments/{provider}/{account_id}")
async def provider_webhook(
    provider: str, account_id: str, request: Request, ctx: Context = Depends(get_ctx)
) -> Response:
    """Provider notifications (Stripe, Mollie): verified, deduplicated, applied; 400 if not
    verified. A Mollie id that is not one of ours, or that Mollie does not know for this key,
    changes nothing and answers 200 (Mollie's advice: reveal nothing to a prober)."""
    body = await request.body()
    async with ctx.db.uow() as uow:
        account = await uow.session.get(PaymentAccount, account_id[:32])
        if account is None or account.provider != provider or not account.active:
            raise ApiError(404, "not_found", "no such payment account")
        try:
            await service.handle_webhook(ctx, uow, account, request.headers, body)
        except WebhookRejected:
            raise ApiError(400, "invalid_signature", "signature does not verify") from None
        except PaymentError as exc:
            if exc.code == "not_found":
                return Response(status_code=200)
            raise ApiError(502, exc.code, str(exc)) from None
    return Response(status_code=200)
