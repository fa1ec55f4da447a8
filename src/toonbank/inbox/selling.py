"""Selling from the inbox: search the catalog, send product cards and carousels, build the
customer's cart, send a payment link, refund (role-gated).

Everything goes through the commerce services (``ctx.search``, ``commerce.carts``,
``commerce.payments.service``); this module only checks who may do what and turns products
into channel content. Payment and order changes reach the inbox live: the order's status
messages to the customer are events of the conversation, so the open conversation (and its
profile panel) refreshes when the customer pays.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from toonbank.api.deps import current_agent, get_ctx
from toonbank.api.errors import ApiError
from toonbank.auth.service import can
from toonbank.channels.content import Option, ProductCard, ProductCarousel
from toonbank.channels.content import Product as ProductContent
from toonbank.commerce import carts
from toonbank.commerce.money import Money
from toonbank.commerce.orders import OrderError
from toonbank.commerce.payments.port import PaymentError
from toonbank.commerce.payments.service import create_payment, payment_json, refund
from toonbank.commerce.search import SearchQuery
from toonbank.context import Context
from toonbank.conversations.events import lock_contacts, record_agent_event
from toonbank.inbox.api import _allowed, _visible, acting_agent, history_view
from toonbank.inbox.outbound import send_content
from toonbank.models import Agent, Order, Product, ProductVariant, ShippingMethod

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])
MAX_CARDS = 10


def _cart_error(exc: carts.CartError) -> ApiError:
    status = 404 if exc.code == "not_found" else 409 if exc.code == "cart_closed" else 422
    return ApiError(status, exc.code, str(exc))


@router.get("/conversations/{conversation_id}/catalog")
async def search_catalog(
    conversation_id: str,
    q: str = Query(default="", max_length=200),
    limit: int = Query(default=10, ge=1, le=MAX_CARDS * 2),
    agent: Agent = Depends(current_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """The workspace's catalog, in the customer's language when known."""
    async with ctx.db.session() as session:
        conversation = await _visible(session, agent, conversation_id)
    result = await ctx.search.search(
        agent.workspace_id,
        SearchQuery(text=q.strip(), language=conversation.language, limit=limit),
    )
    return result.to_json()


class ProductsIn(BaseModel):
    product_ids: list[str] = Field(min_length=1, max_length=MAX_CARDS)
    text: str | None = Field(default=None, max_length=1024)


async def _cards(session: Any, workspace_id: str, ids: list[str]) -> list[ProductContent]:
    wanted = [i[:32] for i in dict.fromkeys(ids)]
    products = {
        p.id: p
        for p in (
            await session.execute(
                select(Product).where(
                    Product.id.in_(wanted),
                    Product.workspace_id == workspace_id,
                    Product.published.is_(True),
                )
            )
        ).scalars()
    }
    if len(products) != len(wanted):
        raise ApiError(404, "not_found", "some products are not in this workspace's catalog")
    variants: dict[str, ProductVariant] = {}
    rows = await session.execute(
        select(ProductVariant)
        .where(ProductVariant.product_id.in_(wanted), ProductVariant.workspace_id == workspace_id)
        .order_by(ProductVariant.position, ProductVariant.id)
    )
    for variant in rows.scalars():
        variants.setdefault(variant.product_id, variant)
    cards = []
    for pid in wanted:
        product, variant = products[pid], variants.get(pid)
        price = carts.current_price(variant) if variant is not None else None
        cards.append(
            ProductContent(
                id=product.id,
                title=product.title[:255],
                price=price.minor if price else None,
                currency=price.currency if price else None,
                image_url=(product.images or [None])[0],
                url=product.link,
                subtitle=(product.brand or None),
                buttons=(
                    [Option(title="Add to cart", payload=f"cart:add:{variant.id}")]
                    if variant is not None
                    else []
                ),
            )
        )
    return cards


@router.post("/conversations/{conversation_id}/products", status_code=202)
async def send_products(
    conversation_id: str,
    body: ProductsIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """One product: a card; several: a carousel (degraded to what the channel can show)."""
    async with ctx.db.uow() as uow:
        conversation = await _visible(uow.session, agent, conversation_id)
        _allowed(agent, conversation)
        cards = await _cards(uow.session, agent.workspace_id, body.product_ids)
        content = (
            ProductCard(product=cards[0], text=body.text)
            if len(cards) == 1
            else ProductCarousel(products=cards, text=body.text)
        )
        messages, kind = await send_content(ctx, uow, conversation, content, agent_id=agent.id)
        return [history_view(m, kind) for m in messages]


# ------------------------------------------------------------------------------------------
# The customer's cart
# ------------------------------------------------------------------------------------------
class LineIn(BaseModel):
    variant_id: str = Field(min_length=1, max_length=32)
    quantity: int = Field(ge=0, le=carts.MAX_QUANTITY)


async def _cart_view(session: Any, cart: Any) -> dict[str, Any]:
    """The cart plus the shipping methods it may use (so the agent can pick one)."""
    view = await carts.cart_json(session, cart)
    methods = await session.execute(
        select(ShippingMethod)
        .where(ShippingMethod.workspace_id == cart.workspace_id, ShippingMethod.active.is_(True))
        .order_by(ShippingMethod.code)
    )
    view["shipping_methods"] = [
        {
            "code": m.code,
            "name": m.name,
            "kind": m.kind,
            "countries": m.countries,
            "price": Money(m.price_minor, m.currency).to_json(),
        }
        for m in methods.scalars()
    ]
    return view


@router.get("/conversations/{conversation_id}/cart")
async def get_cart(
    conversation_id: str, agent: Agent = Depends(current_agent), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.uow() as uow:
        conversation = await _visible(uow.session, agent, conversation_id)
        cart = await carts.open_cart(uow.session, agent.workspace_id, conversation.contact_id)
        return await _cart_view(uow.session, cart)


class CartIn(BaseModel):
    shipping_method: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    discount_code: str | None = Field(default=None, max_length=64)


@router.post("/conversations/{conversation_id}/cart")
async def update_cart(
    conversation_id: str,
    body: CartIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Shipping method, country, discount code of the customer's open cart (fields sent)."""
    try:
        async with ctx.db.uow() as uow:
            conversation = await _visible(uow.session, agent, conversation_id)
            _allowed(agent, conversation)
            await lock_contacts(uow, {conversation.contact_id})
            cart = await carts.open_cart(uow.session, agent.workspace_id, conversation.contact_id)
            await carts.update_cart(
                uow.session,
                cart,
                shipping_method=body.shipping_method,
                country=body.country,
                discount_code=body.discount_code,
                fields=set(body.model_fields_set),
            )
            view = await _cart_view(uow.session, cart)
            await record_agent_event(uow, ctx.bus, conversation, "cart", cart=view)
    except carts.CartError as exc:
        raise _cart_error(exc) from None
    return view


@router.post("/conversations/{conversation_id}/cart/lines")
async def set_cart_line(
    conversation_id: str,
    body: LineIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Put ``quantity`` of a variant in the customer's open cart (0 removes it)."""
    try:
        async with ctx.db.uow() as uow:
            conversation = await _visible(uow.session, agent, conversation_id)
            _allowed(agent, conversation)
            await lock_contacts(uow, {conversation.contact_id})
            cart = await carts.open_cart(uow.session, agent.workspace_id, conversation.contact_id)
            await carts.set_line(uow.session, cart, body.variant_id, body.quantity)
            view = await _cart_view(uow.session, cart)
            await record_agent_event(uow, ctx.bus, conversation, "cart", cart=view)
    except carts.CartError as exc:
        raise _cart_error(exc) from None
    return view


class PaymentLinkIn(BaseModel):
    capture: str = Field(default="automatic", pattern="^(automatic|manual)$")


@router.post("/conversations/{conversation_id}/payment-link", status_code=201)
async def send_payment_link(
    conversation_id: str,
    body: PaymentLinkIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Check out the customer's cart into an order and send its payment link (sandbox
    provider) in the conversation."""
    try:
        async with ctx.db.uow() as uow:
            conversation = await _visible(uow.session, agent, conversation_id)
            _allowed(agent, conversation)
            await lock_contacts(uow, {conversation.contact_id})
            cart = await carts.open_cart(uow.session, agent.workspace_id, conversation.contact_id)
            order = await carts.checkout(uow.session, cart, actor=f"agent:{agent.id}")
            payment = await create_payment(
                ctx,
                uow,
                order,
                provider="sandbox",
                capture="manual" if body.capture == "manual" else "automatic",
            )
            view = {
                "order": {"id": order.id, "number": order.number, "status": order.status},
                "payment": payment_json(payment),
            }
    except carts.CheckoutRefused as exc:
        raise ApiError(
            409,
            "checkout_refused",
            str(exc),
            extra={"problems": [p.to_json() for p in exc.problems]},
        ) from None
    except carts.CartError as exc:
        raise _cart_error(exc) from None
    except PaymentError as exc:
        raise ApiError(409, exc.code, str(exc)) from None
    return view


class RefundIn(BaseModel):
    amount: int | None = Field(default=None, gt=0)
    """Minor units; None refunds everything not yet refunded."""


@router.post("/orders/{order_id}/refund")
async def refund_order(
    order_id: str,
    body: RefundIn,
    agent: Agent = Depends(acting_agent),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Refund an order of this workspace (roles with ``orders:refund``: owner, admin)."""
    if not can(agent.role, "orders:refund"):
        raise ApiError(403, "forbidden", "your role cannot refund orders")
    try:
        async with ctx.db.uow() as uow:
            order = await uow.session.get(Order, order_id[:32])
            if order is None or order.workspace_id != agent.workspace_id:
                raise ApiError(404, "not_found", "no such order in this workspace")
            await lock_contacts(uow, {order.contact_id})
            amount = Money(body.amount, order.currency) if body.amount is not None else None
            refunded = await refund(ctx, uow, order, amount, actor=f"agent:{agent.id}")
            view = {
                "order": {"id": order.id, "status": order.status},
                "refunded": refunded.to_json(),
            }
    except (PaymentError, OrderError) as exc:
        raise ApiError(409, getattr(exc, "code", "invalid_request"), str(exc)) from None
    return view
