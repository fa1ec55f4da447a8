"""Recommendations: matching with stated preferences, similar items, complete-the-look, purchase
history, readable reasons in nine languages, the audit trail and the REST API (SQLite and
PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from toonbank.auth.service import create_api_key
from toonbank.commerce import sample
from toonbank.commerce.recommend import (
    COMPLEMENTS,
    RecommendationRequest,
    UnknownContact,
    get_audit,
    recommend,
)
from toonbank.commerce.recommend_texts import LANGUAGES, TEMPLATES, describe, reason
from toonbank.commerce.search import SearchQuery
from toonbank.commerce.search.evaluation import import_sample
from toonbank.commerce.search.text import terms
from toonbank.context import Context
from toonbank.models import Contact, Order, OrderLine, Product, ProductVariant
from toonbank.workspaces.service import create_workspace

CATALOG = list(sample.products(160))
BY_GROUP = {p.group: p for p in CATALOG}


@pytest.fixture
async def shop(ctx: Context, workspace: dict[str, str]) -> str:
    await import_sample(ctx.db, workspace["id"], CATALOG)
    return workspace["id"]


async def add_contact(ctx: Context, ws: str, preferences: dict[str, Any] | None = None,
                      locale: str | None = None) -> str:  # fmt: skip
    async with ctx.db.uow() as uow:
        attributes = {"preferences": preferences} if preferences else {}
        contact = Contact(workspace_id=ws, display_name="Ada", locale=locale, attributes=attributes)
        uow.session.add(contact)
        await uow.session.flush()
        return contact.id


async def product_id(ctx: Context, ws: str, group: str) -> str:
    async with ctx.db.session() as session:
        found = await session.scalar(
            select(Product.id).where(Product.workspace_id == ws, Product.external_id == group)
        )
    assert found is not None
    return found


async def buy(ctx: Context, ws: str, contact: str, group: str, status: str = "paid") -> None:
    async with ctx.db.uow() as uow:
        variant = (
            await uow.session.scalars(
                select(ProductVariant)
                .join(Product, Product.id == ProductVariant.product_id)
                .where(Product.workspace_id == ws, Product.external_id == group)
            )
        ).first()
        assert variant is not None
        order = Order(workspace_id=ws, contact_id=contact, number=f"N-{group}-{status}",
                      status=status, currency="EUR", subtotal_minor=variant.price_minor,
                      total_minor=variant.price_minor)  # fmt: skip
        uow.session.add(order)
        await uow.session.flush()
        uow.session.add(
            OrderLine(
                workspace_id=ws,
                order_id=order.id,
                variant_id=variant.id,
                title=variant.title,
                quantity=1,
                unit_price_minor=variant.price_minor,
                total_minor=variant.price_minor,
            )
        )


def first_of(garment: str) -> sample.SampleProduct:
    return next(p for p in CATALOG if p.garment.en == garment)


def garment_of(external_id: str) -> str:
    return BY_GROUP[external_id].garment.en


async def test_match_completes_the_request_with_stated_preferences(ctx: Context, shop: str) -> None:
    contact = await add_contact(ctx, shop, {"size": "M", "colours": ["blue"], "max_price": 120})
    request = RecommendationRequest(
        contact_id=contact, query=SearchQuery(text="blouses", price_max=Decimal("100"))
    )
    answer = await recommend(ctx.db, ctx.search, shop, request)
    [group] = answer.groups
    assert group.kind == "match"
    assert group.reason == (
        "You asked for blouses in blue in size M under €100, so here are a few that fit."
    )
    assert group.items
    for item in group.items:
        assert garment_of(item.external_id) == "blouse"
        assert all(v.colour == "Blue" and v.size == "M" for v in item.variants)
        assert all(v.price.minor <= 10000 for v in item.variants)
    # the request's own price limit wins over the stated max_price
    assert answer.signals["applied_preferences"] == {"sizes": ["M"], "colours": ["blue"]}
    assert answer.signals["preferences"] == {"size": "M", "colours": ["blue"], "max_price": 120}
    async with ctx.db.session() as session:
        stored = await get_audit(session, shop, answer.id)
    assert stored is not None and stored.contact_id == contact
    assert stored.product_ids == [item.id for item in group.items]
    assert stored.reason == group.reason
    assert stored.request["query"]["text"] == "blouses"
    assert stored.signals["applied_preferences"] == {"sizes": ["M"], "colours": ["blue"]}


async def test_a_colour_said_in_the_query_beats_the_preferred_colour(
    ctx: Context, shop: str
) -> None:
    contact = await add_contact(ctx, shop, {"colours": ["blue"]}, locale="nl-NL")
    answer = await recommend(ctx.db, ctx.search, shop, RecommendationRequest(
        contact_id=contact, query=SearchQuery(text="rode jurk")))  # fmt: skip
    [group] = answer.groups
    assert answer.language == "nl"
    assert group.reason == "Je vroeg naar rode jurk, dus hier zijn er een paar die passen."
    assert answer.signals["applied_preferences"] == {}
    assert all(garment_of(i.external_id) == "dress" for i in group.items)


async def test_preferences_that_leave_nothing_are_dropped_and_audited(
    ctx: Context, shop: str
) -> None:
    contact = await add_contact(ctx, shop, {"size": "50"})  # a suit size: no such variants
    answer = await recommend(ctx.db, ctx.search, shop, RecommendationRequest(
        contact_id=contact, query=SearchQuery(text="jeans")))  # fmt: skip
    [group] = answer.groups
    assert group.items and all(garment_of(i.external_id) == "jeans" for i in group.items)
    assert answer.signals["dropped_preferences"] == ["sizes"]
    assert answer.signals["applied_preferences"] == {}
    assert "size" not in group.reason


async def test_similar_items_and_complete_the_look_for_a_product(ctx: Context, shop: str) -> None:
    dress = first_of("dress")
    anchor = await product_id(ctx, shop, dress.group)
    answer = await recommend(ctx.db, ctx.search, shop, RecommendationRequest(
        product_id=anchor, language="nl", limit=4))  # fmt: skip
    similar, complete = answer.groups
    assert similar.kind == "similar" and complete.kind == "complete"
    assert similar.reason == (
        f"Vergelijkbaar met {dress.title[1]}: hetzelfde soort artikel, in dezelfde prijsklasse."
    )
    assert complete.reason == f"Past goed bij {dress.title[1]}."
    assert 0 < len(similar.items) <= 4 and 0 < len(complete.items) <= 4
    assert all(garment_of(i.external_id) == "dress" for i in similar.items)
    assert anchor not in {i.id for i in similar.items + complete.items}
    looks = {"boots", "tote bag", "belt", "scarf"}
    assert {garment_of(i.external_id) for i in complete.items} <= looks
    assert len({garment_of(i.external_id) for i in complete.items}) >= 2
    anchor_price = min(v.sale_price or v.price for v in dress.variants)
    gaps = [abs(item.price_from.amount - anchor_price) for item in similar.items]
    within = answer.signals["similar"]["within_window"]
    if within >= 4:  # enough dresses within ±40 %: only those are shown
        assert all(gap <= anchor_price * Decimal("0.4") for gap in gaps)
    else:  # fewer: those first (closest in price), then the rest of the category
        assert all(gap <= anchor_price * Decimal("0.4") for gap in gaps[:within])
    assert answer.signals["complete"]["complements"] == ["Boots", "Bags", "Belts", "Scarves"]
    assert answer.signals["anchor"] == {"product_id": anchor, "source": "request"}


async def test_purchase_history_drives_recommendations_and_bought_items_are_left_out(
    ctx: Context, shop: str
) -> None:
    contact = await add_contact(ctx, shop, locale="de")
    jeans, coat = first_of("jeans"), first_of("coat")
    await buy(ctx, shop, contact, coat.group, status="cancelled")  # not a purchase
    await buy(ctx, shop, contact, jeans.group)
    answer = await recommend(ctx.db, ctx.search, shop, RecommendationRequest(contact_id=contact))
    [group] = answer.groups
    assert group.kind == "history"
    assert group.reason == f"Weil Sie {jeans.title[0]} gekauft haben, passen diese gut dazu."
    jeans_id = await product_id(ctx, shop, jeans.group)
    assert answer.signals["purchases"]["products"] == [jeans_id]
    assert answer.signals["anchor"] == {"product_id": jeans_id, "source": "history"}
    assert {garment_of(i.external_id) for i in group.items} <= {
        "t-shirt", "sweater", "cardigan", "sneakers", "belt"}  # fmt: skip
    # A search for what was bought leaves the bought product out.
    again = await recommend(ctx.db, ctx.search, shop, RecommendationRequest(
        contact_id=contact, query=SearchQuery(text=jeans.title[0]), limit=20))  # fmt: skip
    assert jeans_id not in {i.id for g in again.groups for i in g.items}


async def test_stated_preferences_alone(ctx: Context, shop: str) -> None:
    contact = await add_contact(ctx, shop, {"sizes": ["S"], "colours": ["black"]}, locale="fr")
    answer = await recommend(ctx.db, ctx.search, shop, RecommendationRequest(contact_id=contact))
    [group] = answer.groups
    assert group.reason == "Sélectionné pour vous : articles en noir en taille S."
    for item in group.items:
        assert all(v.colour == "Black" and v.size == "S" and v.in_stock for v in item.variants)


async def test_ids_of_other_workspaces_are_unknown(ctx: Context, shop: str) -> None:
    async with ctx.db.uow() as uow:
        other, _key = await create_workspace(uow.session, ctx.secret_box, ctx.channels, "rival")
    stranger = await add_contact(ctx, other.id)
    with pytest.raises(UnknownContact):
        await recommend(ctx.db, ctx.search, shop, RecommendationRequest(contact_id=stranger))


def test_every_text_exists_in_nine_languages_and_reads_naturally() -> None:
    assert set(LANGUAGES) == {"en", "nl", "de", "fr", "es", "it", "pt", "pl", "ro"}
    for kind, texts in TEMPLATES.items():
        assert set(texts) == set(LANGUAGES), kind
        assert len(set(texts.values())) == len(LANGUAGES), kind
    what = describe("es", text="blusas", colours=("blue",), sizes=("M",))
    assert reason("match", "es", what=what) == (
        "Buscabas blusas en azul en talla M, así que aquí tienes algunas opciones."
    )
    assert reason("complete", "xx", title="Linen dress") == "Goes well with Linen dress."
    assert all(terms(c) for values in COMPLEMENTS.values() for c in values)


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_rest_api_recommends_and_reads_the_audit(
    app_client: httpx.AsyncClient, ctx: Context, shop: str, workspace: dict[str, str]
) -> None:
    contact = await add_contact(ctx, shop, {"size": "M"})
    body = {"contact_id": contact, "query": {"text": "jacket", "colours": ["red"]},
            "language": "it", "limit": 3}  # fmt: skip
    created = await app_client.post(
        "/api/v1/recommendations", json=body, headers=auth(workspace["api_key"])
    )
    assert created.status_code == 200, created.text
    data = created.json()
    [group] = data["groups"]
    assert group["reason"] == ("Hai chiesto jacket in rosso taglia M: ecco alcune proposte adatte.")
    assert 0 < len(group["items"]) <= 3
    listed = await app_client.get(
        f"/api/v1/recommendations?contact_id={contact}", headers=auth(workspace["api_key"])
    )
    assert [r["id"] for r in listed.json()["recommendations"]] == [data["id"]]
    one = await app_client.get(
        f"/api/v1/recommendations/{data['id']}", headers=auth(workspace["api_key"])
    )
    assert one.status_code == 200
    assert one.json()["product_ids"] == [i["id"] for i in group["items"]]
    assert one.json()["signals"]["applied_preferences"] == {"sizes": ["M"]}

    async with ctx.db.uow() as uow:
        reader = await create_api_key(uow.session, shop, ["catalog:read"])
        _rival, rival_key = await create_workspace(
            uow.session, ctx.secret_box, ctx.channels, "rival"
        )
    denied = await app_client.post("/api/v1/recommendations", json=body, headers=auth(reader))
    assert denied.status_code == 403
    assert (
        await app_client.get("/api/v1/recommendations", headers=auth(reader))
    ).status_code == 403
    anonymous = {"query": {"text": "sweater"}}
    ok = await app_client.post("/api/v1/recommendations", json=anonymous, headers=auth(reader))
    assert ok.status_code == 200 and ok.json()["groups"][0]["kind"] == "match"
    other = await app_client.post("/api/v1/recommendations", json=body, headers=auth(rival_key))
    assert other.status_code == 404
    hidden = await app_client.get(f"/api/v1/recommendations/{data['id']}", headers=auth(rival_key))
    assert hidden.status_code == 404
    too_big = {"query": {"text": "x" * 500}}
    assert (
        await app_client.post("/api/v1/recommendations", json=too_big, headers=auth(reader))
    ).status_code == 422
