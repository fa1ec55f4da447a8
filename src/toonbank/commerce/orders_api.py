"""REST for carts, discount codes, VAT rates and orders under ``/api/v1``.

Workspace API keys as in ``api/rest.py``: ``orders:read`` to read, ``orders:write`` to change.
Every lookup filters on the key's workspace; another workspace's ids answer 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from toonbank.api.deps import get_ctx, require_scope
from toonbank.api.errors import ApiError
from toonbank.auth.service import KeyPrincipal
from toonbank.commerce import carts, orders
from toonbank.commerce.money import Money, MoneyError
from toonbank.commerce.payments import service as payments
from toonbank.commerce.payments.mollie_provider import API_KEY as MOLLIE_KEY
from toonbank.commerce.payments.port import PaymentError
from toonbank.context import Context
from toonbank.kit.clock import now
from toonbank.models import Cart, DiscountCode, Order, PaymentAccount, TaxRate

router = APIRouter(prefix="/api/v1", tags=["orders"])

READ = require_scope("orders:read")
WRITE = require_scope("orders:write")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineBody(_Body):
    quantity: int = Field(ge=0, le=carts.MAX_QUANTITY)


class CartPatch(_Body):
    discount_code: str | None = Field(default=None, max_length=64)
    shipping_method: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    shipping_address: dict[str, str] | None = Field(default=None, max_length=20)


class DiscountBody(_Body):
    kind: Literal["percent", "fixed"]
    percent: Decimal | None = Field(default=None, gt=0, le=100, decimal_places=2)
    amount: str | None = Field(default=None, max_length=32)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    min_subtotal: str | None = Field(default=None, max_length=32)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    max_uses: int | None = Field(default=None, ge=1)
    active: bool = True


class TaxBody(_Body):
    rate: Decimal = Field(ge=0, le=100, decimal_places=2)


class StatusBody(_Body):
    status: str = Field(max_length=16)
    carrier: str | None = Field(default=None, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=1000)
    notify: bool = True
    restock: bool = True
    """On ``returned``: put the units back in stock (false when the goods cannot be resold)."""


def _cart_error(exc: carts.CartError) -> ApiError:
    status = {"not_found": 404, "invalid_request": 422, "invalid_discount": 422}.get(exc.code, 409)
    return ApiError(status, exc.code, str(exc))


async def _cart(session: Any, principal: KeyPrincipal, cart_id: str) -> Cart:
    cart = await carts.get_cart(session, principal.workspace_id, cart_id)
    if cart is None:
        raise ApiError(404, "not_found", "no such cart in this workspace")
    return cart


async def _order(session: Any, principal: KeyPrincipal, order_id: str) -> Order:
    order = await orders.get_order(session, principal.workspace_id, order_id)
    if order is None:
        raise ApiError(404, "not_found", "no such order in this workspace")
    return order


# -- carts ---------------------------------------------------------------------------------


@router.post("/contacts/{contact_id}/cart")
async def contact_cart(
    contact_id: str, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> Any:
    """The contact's open cart (created when there is none)."""
    async with ctx.db.uow() as uow:
        try:
            cart = await carts.open_cart(uow.session, principal.workspace_id, contact_id)
            return await carts.cart_json(uow.session, cart)
        except carts.CartError as exc:
            raise _cart_error(exc) from None


@router.get("/carts/{cart_id}")
async def get_cart(
    cart_id: str, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        try:
            return await carts.cart_json(session, await _cart(session, principal, cart_id))
        except carts.CartError as exc:
            raise _cart_error(exc) from None


@router.put("/carts/{cart_id}/lines/{variant_id}")
async def put_line(
    cart_id: str,
    variant_id: str,
    body: LineBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Set the quantity of a variant in the cart (0 removes it); the price is captured now."""
    async with ctx.db.uow() as uow:
        cart = await _cart(uow.session, principal, cart_id)
        try:
            await carts.set_line(uow.session, cart, variant_id, body.quantity)
            return await carts.cart_json(uow.session, cart)
        except carts.CartError as exc:
            raise _cart_error(exc) from None


@router.patch("/carts/{cart_id}")
async def patch_cart(
    cart_id: str,
    body: CartPatch,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.uow() as uow:
        cart = await _cart(uow.session, principal, cart_id)
        try:
            await carts.update_cart(
                uow.session,
                cart,
                discount_code=body.discount_code,
                shipping_method=body.shipping_method,
                country=body.country,
                shipping_address=body.shipping_address,
                fields=set(body.model_fields_set),
            )
            return await carts.cart_json(uow.session, cart)
        except carts.CartError as exc:
            raise _cart_error(exc) from None


@router.post("/carts/{cart_id}/checkout")
async def checkout(
    cart_id: str, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> Any:
    """Re-check prices and stock and create the ``pending`` order (409 lists what changed)."""
    refused: carts.CheckoutRefused | None = None
    async with ctx.db.uow() as uow:
        cart = await _cart(uow.session, principal, cart_id)
        try:
            order = await carts.checkout(uow.session, cart, actor=f"api:{principal.key_id}")
            result = await orders.order_json(uow.session, order)
        except carts.CartError as exc:
            raise _cart_error(exc) from None
        except carts.CheckoutRefused as exc:
            refused = exc  # the new prices are kept (committed) so the customer can confirm
    if refused is not None:
        return JSONResponse(
            {
                "error": "checkout_refused",
                "detail": str(refused),
                "problems": [p.to_json() for p in refused.problems],
            },
            status_code=409,
        )
    return result


# -- discount codes and VAT rates ----------------------------------------------------------


@router.put("/discounts/{code}")
async def put_discount(
    code: str, body: DiscountBody, principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:  # fmt: skip
    code = code.strip().upper()[:64]
    if not code:
        raise ApiError(422, "invalid_request", "code: empty")
    try:
        amount = minimum = None
        if body.kind == "fixed":
            if not body.amount or not body.currency:
                raise ApiError(422, "invalid_request", "a fixed discount needs amount and currency")
            amount = Money.of(body.amount, body.currency)
            if amount.minor <= 0:
                raise ApiError(422, "invalid_request", "amount: more than zero")
        elif body.percent is None:
            raise ApiError(422, "invalid_request", "a percent discount needs percent")
        if body.min_subtotal is not None:
            minimum = Money.of(body.min_subtotal, body.currency or "EUR")
    except MoneyError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    for when in (body.starts_at, body.ends_at):
        if when is not None and when.tzinfo is None:
            raise ApiError(422, "invalid_request", "give dates with a time zone offset")
    async with ctx.db.uow() as uow:
        row = await uow.session.scalar(
            select(DiscountCode).where(
                DiscountCode.workspace_id == principal.workspace_id, DiscountCode.code == code
            )
        )
        if row is None:
            row = DiscountCode(workspace_id=principal.workspace_id, code=code, uses=0)
            uow.session.add(row)
        row.kind = body.kind
        row.percent_bp = int(body.percent * 100) if body.percent is not None else None
        row.amount_minor = amount.minor if amount else None
        priced = amount or minimum
        row.currency = priced.currency if priced is not None else None
        row.min_subtotal_minor = minimum.minor if minimum else None
        row.starts_at, row.ends_at = body.starts_at, body.ends_at
        row.max_uses, row.active = body.max_uses, body.active
        await uow.session.flush()
        return _discount_json(row)


def _discount_json(row: DiscountCode) -> dict[str, Any]:
    return {
        "code": row.code,
        "kind": row.kind,
        "percent": f"{Decimal(row.percent_bp) / 100:f}" if row.percent_bp is not None else None,
        "amount": Money(row.amount_minor, row.currency).to_json()
        if row.amount_minor is not None and row.currency
        else None,
        "min_subtotal": Money(row.min_subtotal_minor, row.currency).to_json()
        if row.min_subtotal_minor is not None and row.currency
        else None,
        "max_uses": row.max_uses,
        "uses": row.uses,
        "active": row.active,
    }


@router.get("/discounts")
async def list_discounts(
    principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(DiscountCode)
            .where(DiscountCode.workspace_id == principal.workspace_id)
            .order_by(DiscountCode.code)
        )
        return [_discount_json(r) for r in rows.scalars()]


@router.put("/tax/rates/{country}")
async def put_tax_rate(
    country: str, body: TaxBody, principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:  # fmt: skip
    """The VAT rate (percent, up to 2 decimals) prices include for deliveries to ``country``."""
    if len(country) != 2 or not country.isalpha():
        raise ApiError(422, "invalid_request", "country: an ISO 3166 alpha-2 code")
    code = country.upper()
    async with ctx.db.uow() as uow:
        row = await uow.session.scalar(
            select(TaxRate).where(
                TaxRate.workspace_id == principal.workspace_id, TaxRate.country == code
            )
        )
        if row is None:
            row = TaxRate(workspace_id=principal.workspace_id, country=code)
            uow.session.add(row)
        row.rate_bp = int(body.rate * 100)
        row.updated_at = now()
    return {"country": code, "rate": f"{body.rate:f}"}


# -- orders --------------------------------------------------------------------------------


@router.get("/orders")
async def list_orders(
    status: str | None = Query(default=None, max_length=16),
    contact_id: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=50, ge=1, le=200),
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    query = select(Order).where(Order.workspace_id == principal.workspace_id)
    if status:
        query = query.where(Order.status == status)
    if contact_id:
        query = query.where(Order.contact_id == contact_id)
    query = query.order_by(Order.created_at.desc(), Order.id).limit(limit)
    async with ctx.db.session() as session:
        found = list((await session.execute(query)).scalars())
        return [await orders.order_json(session, o, events=False) for o in found]


@router.get("/orders/{order_id}")
async def get_order(
    order_id: str, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        return await orders.order_json(session, await _order(session, principal, order_id))


@router.post("/orders/{order_id}/status")
async def set_order_status(
    order_id: str,
    body: StatusBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """``{"status": "shipped", "carrier": "PostNL", "tracking_number": "3SABC"}``; the customer
    is told on their channel unless ``notify`` is false. ``returned`` puts the units back in
    stock unless ``restock`` is false; the status event's data says how many came back."""
    if body.status in (orders.PAID, orders.REFUNDED):
        raise ApiError(
            422, "invalid_request", "paid and refunded follow the payment; refund via /refunds"
        )
    async with ctx.db.uow() as uow:
        order = await _order(uow.session, principal, order_id)
        try:
            await orders.change_status(
                ctx,
                uow,
                order,
                body.status,
                actor=f"api:{principal.key_id}",
                note=body.note,
                carrier=body.carrier,
                tracking_number=body.tracking_number,
                notify=body.notify,
                restock=body.restock,
            )
        except orders.OrderError as exc:
            code = 409 if exc.code == "invalid_transition" else 422
            raise ApiError(code, exc.code, str(exc)) from None
        return await orders.order_json(uow.session, order)


# -- payments ------------------------------------------------------------------------------


class PaymentBody(_Body):
    provider: str = Field(default="sandbox", max_length=16)
    capture: Literal["automatic", "manual"] = "automatic"
    expires_in_minutes: int = Field(default=24 * 60, ge=5, le=30 * 24 * 60)
    send: bool = True


class RefundBody(_Body):
    amount: str | None = Field(default=None, max_length=32)


class KeptLine(_Body):
    variant_id: str = Field(max_length=32)
    quantity: int = Field(ge=0)


class CaptureBody(_Body):
    kept: list[KeptLine] = Field(default_factory=list, max_length=100)


def _payment_error(exc: PaymentError) -> ApiError:
    status = {"unknown_provider": 422, "invalid_request": 422, "invalid_amount": 422}.get(
        exc.code, 409
    )
    return ApiError(status, exc.code, str(exc))


@router.post("/orders/{order_id}/payments")
async def create_payment(
    order_id: str,
    body: PaymentBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """A payment link for a pending order, sent into the customer's conversation by default.

    ``capture: manual`` only authorises the amount ("try at home"); capture what is kept with
    ``/capture``."""
    async with ctx.db.uow() as uow:
        order = await _order(uow.session, principal, order_id)
        try:
            payment = await payments.create_payment(
                ctx,
                uow,
                order,
                provider=body.provider,
                capture=body.capture,
                expires_in=timedelta(minutes=body.expires_in_minutes),
                send=body.send,
            )
        except PaymentError as exc:
            raise _payment_error(exc) from None
        return payments.payment_json(payment)


@router.get("/orders/{order_id}/payments")
async def list_payments(
    order_id: str, principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        order = await _order(session, principal, order_id)
        return [payments.payment_json(p) for p in await payments.payments_of(session, order)]


@router.post("/orders/{order_id}/refunds")
async def refund_order(
    order_id: str,
    body: RefundBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Refund ``amount`` (a decimal string in the order's currency), or all of it."""
    async with ctx.db.uow() as uow:
        order = await _order(uow.session, principal, order_id)
        try:
            amount = Money.of(body.amount, order.currency) if body.amount else None
            await payments.refund(ctx, uow, order, amount, actor=f"api:{principal.key_id}")
        except MoneyError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None
        except PaymentError as exc:
            raise _payment_error(exc) from None
        return await orders.order_json(uow.session, order)


@router.post("/orders/{order_id}/capture")
async def capture_order(
    order_id: str,
    body: CaptureBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Capture the kept items of an authorised ("try at home") order and release the rest."""
    kept: dict[str, int] = {}
    for line in body.kept:
        kept[line.variant_id] = kept.get(line.variant_id, 0) + line.quantity
    async with ctx.db.uow() as uow:
        order = await _order(uow.session, principal, order_id)
        try:
            await payments.capture_kept(ctx, uow, order, kept, actor=f"api:{principal.key_id}")
        except PaymentError as exc:
            raise _payment_error(exc) from None
        result = await orders.order_json(uow.session, order)
        result["payments"] = [
            payments.payment_json(p) for p in await payments.payments_of(uow.session, order)
        ]
        return result


class AccountBody(_Body):
    """Stripe: ``secret_key`` and ``webhook_secret``; Mollie: ``api_key`` (``test_…``)."""

    secret_key: str | None = Field(default=None, min_length=8, max_length=255)
    webhook_secret: str | None = Field(default=None, min_length=8, max_length=255)
    api_key: str | None = Field(default=None, min_length=8, max_length=255)


def _account_secrets(provider: str, body: AccountBody) -> dict[str, str]:
    if provider == "stripe" and body.secret_key and body.webhook_secret and not body.api_key:
        return {"secret_key": body.secret_key, "webhook_secret": body.webhook_secret}
    if provider == "mollie" and body.api_key and not (body.secret_key or body.webhook_secret):
        if not MOLLIE_KEY.match(body.api_key):
            raise ApiError(422, "invalid_request", "api_key: a Mollie test_… or live_… key")
        return {"api_key": body.api_key}
    raise ApiError(
        422,
        "invalid_request",
        "stripe takes secret_key and webhook_secret; mollie takes api_key",
    )


@router.put("/payments/providers/{provider}")
async def put_payment_account(
    provider: str,
    body: AccountBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Connect the workspace's Stripe or Mollie account; answers the webhook path (register it
    in Stripe; Mollie gets it with every payment)."""
    if provider not in ("stripe", "mollie"):
        raise ApiError(422, "invalid_request", "provider: stripe or mollie")
    values = _account_secrets(provider, body)
    async with ctx.db.uow() as uow:
        row = await uow.session.scalar(
            select(PaymentAccount).where(
                PaymentAccount.workspace_id == principal.workspace_id,
                PaymentAccount.provider == provider,
            )
        )
        if row is None:
            row = PaymentAccount(workspace_id=principal.workspace_id, provider=provider)
            uow.session.add(row)
        row.secrets = ctx.secret_box.seal(values)
        row.active = True
        await uow.session.flush()
        return {"provider": provider, "id": row.id,
                "webhook_path": f"/webhooks/payments/{provider}/{row.id}"}  # fmt: skip
