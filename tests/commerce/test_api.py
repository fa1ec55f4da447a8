"""Commerce REST API: API-key auth and scopes, workspace scoping, catalog and stock updates,
search, feed imports, stores and shipping (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from toonbank.auth.service import create_api_key
from toonbank.context import Context
from toonbank.workspaces.service import create_workspace

from .helpers import gmc_tsv, item

FIXTURES = Path(__file__).parent / "fixtures"

PRODUCT = {
    "external_id": "DRS-1",
    "title": "Linen midi dress",
    "description": "Airy linen dress",
    "brand": "Noordzee Atelier",
    "category": "Women > Dresses",
    "currency": "EUR",
    "variants": [
        {"external_id": "DRS-1-S", "options": {"Colour": "Red", "Size": "S"}, "price": "89.95",
         "sale_price": "69.95", "quantity": 4, "sku": "DRS-1-S"},
        {"external_id": "DRS-1-M", "options": {"Colour": "Red", "Size": "M"}, "price": "89.95",
         "quantity": 0, "sku": "DRS-1-M"},
    ],
}  # fmt: skip
AMS_HOURS = {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def other_key(ctx: Context, name: str = "rival") -> str:
    async with ctx.db.uow() as uow:
        _ws, key = await create_workspace(uow.session, ctx.secret_box, ctx.channels, name)
    return key


async def add_product(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/catalog/products", json={"products": [PRODUCT]}, headers=auth(key)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_keys_and_scopes_are_enforced(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    assert (await app_client.get("/api/v1/catalog/search?q=x")).status_code == 401
    bad = await app_client.get("/api/v1/catalog/search", headers=auth("tbk_nope_nope"))
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"
    async with ctx.db.uow() as uow:
        chat_only = await create_api_key(uow.session, workspace["id"], ["conversations:read"])
        reader = await create_api_key(uow.session, workspace["id"], ["catalog:read"])
    denied = await app_client.get("/api/v1/catalog/products", headers=auth(chat_only))
    assert denied.status_code == 403 and "catalog:read" in denied.json()["detail"]
    assert (
        await app_client.get("/api/v1/catalog/products", headers=auth(reader))
    ).status_code == 200
    write = await app_client.post(
        "/api/v1/catalog/products", json={"products": [PRODUCT]}, headers=auth(reader)
    )
    assert write.status_code == 403
    for path in ("/api/v1/stores/AMS", "/api/v1/shipping/methods/std"):
        assert (await app_client.put(path, json={}, headers=auth(reader))).status_code == 403


async def test_products_upsert_read_patch_and_search(
    app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    created = await add_product(app_client, key)
    product_id = created["products"]["DRS-1"]
    assert created["report"]["products"]["created"] == 1
    assert created["report"]["stock_levels_written"] == 2
    again = await add_product(app_client, key)
    assert again["products"] == created["products"]
    assert again["report"]["products"]["unchanged"] == 1
    got = (await app_client.get(f"/api/v1/catalog/products/{product_id}", headers=auth(key))).json()
    assert got["title"] == "Linen midi dress" and got["category"] == "Women > Dresses"
    small, _medium = got["variants"]
    assert small["colour"] == "Red" and small["size"] == "S"  # from the options
    assert small["price"] == {"amount": "89.95", "currency": "EUR"}
    assert small["sale_price"] == {"amount": "69.95", "currency": "EUR"}
    assert small["stock"] == [
        {"location": "online", "name": "Online stock", "kind": "warehouse", "quantity": 4,
         "reserved": 0, "available": 4}
    ]  # fmt: skip
    found = (
        await app_client.get(
            "/api/v1/catalog/search",
            params={"q": "lnen dres", "in_stock": "true"},
            headers=auth(key),
        )
    ).json()
    assert found["total"] == 1 and found["hits"][0]["id"] == product_id
    assert [v["id"] for v in found["hits"][0]["variants"]] == [small["id"]]
    assert found["corrections"] == {"lnen": "linen"}  # "dres" is a prefix, not a typo
    patched = await app_client.patch(
        f"/api/v1/catalog/products/{product_id}", json={"published": False}, headers=auth(key)
    )
    assert patched.status_code == 200 and patched.json()["published"] is False
    gone = await app_client.get("/api/v1/catalog/search?q=linen", headers=auth(key))
    assert gone.json()["total"] == 0
    listed = await app_client.get("/api/v1/catalog/products?published=false", headers=auth(key))
    assert [p["id"] for p in listed.json()["products"]] == [product_id]
    invalid = await app_client.post(
        "/api/v1/catalog/products",
        json={"products": [{**PRODUCT, "variants": [{"external_id": "x", "price": 9.99}]}]},
        headers=auth(key),
    )
    assert invalid.status_code == 422  # prices are strings, never floats


async def test_another_workspaces_key_cannot_read_or_change_this_catalog(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    mine = workspace["api_key"]
    created = await add_product(app_client, mine)
    product_id = created["products"]["DRS-1"]
    detail = await app_client.get(f"/api/v1/catalog/products/{product_id}", headers=auth(mine))
    variant_id = detail.json()["variants"][0]["id"]
    theirs = await other_key(ctx)
    assert (
        await app_client.get(f"/api/v1/catalog/products/{product_id}", headers=auth(theirs))
    ).status_code == 404
    assert (
        await app_client.get(f"/api/v1/catalog/variants/{variant_id}/stock", headers=auth(theirs))
    ).status_code == 404
    assert (
        await app_client.patch(
            f"/api/v1/catalog/products/{product_id}", json={"published": False},
            headers=auth(theirs),
        )
    ).status_code == 404  # fmt: skip
    search = await app_client.get("/api/v1/catalog/search?q=linen", headers=auth(theirs))
    assert search.json()["total"] == 0
    listed = await app_client.get("/api/v1/catalog/products", headers=auth(theirs))
    assert listed.json()["products"] == []
    stock = await app_client.put(
        "/api/v1/catalog/stock",
        json={"items": [{"variant_id": variant_id, "quantity": 0},
                        {"sku": "DRS-1-S", "quantity": 0}]},
        headers=auth(theirs),
    )  # fmt: skip
    assert stock.json()["written"] == 0
    assert [e["message"] for e in stock.json()["errors"]] == [
        "no such variant in this workspace"
    ] * 2
    after = await app_client.get(f"/api/v1/catalog/variants/{variant_id}/stock", headers=auth(mine))
    assert after.json()["quantity"] == 4  # untouched
    assert (await app_client.get("/api/v1/catalog/search?q=linen", headers=auth(mine))).json()[
        "total"
    ] == 1


async def test_stock_updates(app_client: httpx.AsyncClient, workspace: dict[str, str]) -> None:
    key = workspace["api_key"]
    await add_product(app_client, key)
    store = await app_client.put(
        "/api/v1/stores/AMS-01",
        json={"name": "Amsterdam", "opening_hours": AMS_HOURS},
        headers=auth(key),
    )
    assert store.status_code == 200, store.text
    response = await app_client.put(
        "/api/v1/catalog/stock",
        json={"items": [
            {"sku": "DRS-1-M", "location": "AMS-01", "quantity": 2},
            {"sku": "DRS-1-M", "location": "online", "quantity": 1},
            {"sku": "DRS-1-M", "location": "NOWHERE", "quantity": 1},
        ]},
        headers=auth(key),
    )  # fmt: skip
    body = response.json()
    assert body["written"] == 2
    assert body["errors"] == [
        {"row": 3, "id": "DRS-1-M", "field": "location",
         "message": "no location with code 'NOWHERE'; create the store first"}
    ]  # fmt: skip
    found = await app_client.get(
        "/api/v1/catalog/search", params={"q": "dress", "size": "M", "in_stock": "true"},
        headers=auth(key),
    )  # fmt: skip
    assert found.json()["hits"][0]["variants"][0]["quantity"] == 3
    missing = await app_client.put(
        "/api/v1/catalog/stock", json={"items": [{"quantity": 1}]}, headers=auth(key)
    )
    assert missing.status_code == 422


async def test_feed_import_endpoint(
    app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    body = (FIXTURES / "shopify_products.csv").read_bytes()
    response = await app_client.post(
        "/api/v1/catalog/imports?currency=EUR", content=body,
        headers={**auth(key), "x-filename": "products_export.csv"},
    )  # fmt: skip
    report = response.json()
    assert response.status_code == 200, report
    assert report["format"] == "shopify" and report["products"]["created"] == 3
    assert [e["row"] for e in report["errors"]] == [8, 9, 10, 11, 12]
    replaced = await app_client.post(
        "/api/v1/catalog/imports?format=gmc",
        content=(FIXTURES / "gmc_products_atom.xml").read_bytes(),
        headers=auth(key),
    )
    assert replaced.status_code == 200  # a small catalog may be replaced entirely
    assert replaced.json()["products"]["unpublished"] == 2  # the draft coat was not published
    many = gmc_tsv([item(f"P{n}", f"Product {n}") for n in range(30)]).getvalue()
    assert (
        await app_client.post("/api/v1/catalog/imports", content=many, headers=auth(key))
    ).status_code == 200
    one = gmc_tsv([item("P1", "Product 1")]).getvalue()
    refused = await app_client.post("/api/v1/catalog/imports", content=one, headers=auth(key))
    assert refused.status_code == 409 and refused.json()["error"] == "import_refused"
    forced = await app_client.post(
        "/api/v1/catalog/imports?force=true", content=one, headers=auth(key)
    )
    assert forced.json()["products"]["unpublished"] == 29
    broken = await app_client.post(
        "/api/v1/catalog/imports", content=(FIXTURES / "gmc_truncated.xml").read_bytes(),
        headers=auth(key),
    )  # fmt: skip
    assert broken.status_code == 422 and broken.json()["error"] == "invalid_feed"
    log = (await app_client.get("/api/v1/catalog/imports", headers=auth(key))).json()
    assert [(i["format"], i["filename"]) for i in log][-2:] == [
        ("gmc", None), ("shopify", "products_export.csv")
    ]  # fmt: skip
    assert len(log) == 4  # the refused import left no trace


async def test_stores_open_now_nearest_and_in_stock(
    app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    created = await add_product(app_client, key)
    stores = {
        "AMS-01": {"name": "Amsterdam", "city": "Amsterdam", "latitude": 52.3686,
                   "longitude": 4.8912, "opening_hours": AMS_HOURS,
                   "exceptions": [{"date": "2025-12-25", "closed": True, "note": "Christmas"}],
                   "services": ["alterations"]},
        "UTR-01": {"name": "Utrecht", "city": "Utrecht", "latitude": 52.0894,
                   "longitude": 5.1206, "opening_hours": {**AMS_HOURS, "tue": ["13:00-18:00"]}},
        "NYC-01": {"name": "New York", "city": "New York", "latitude": 40.7128,
                   "longitude": -74.006, "timezone": "America/New_York",
                   "opening_hours": AMS_HOURS},
    }  # fmt: skip
    for code, body in stores.items():
        response = await app_client.put(f"/api/v1/stores/{code}", json=body, headers=auth(key))
        assert response.status_code == 200, response.text
    variant = (
        await app_client.get(
            f"/api/v1/catalog/products/{created['products']['DRS-1']}", headers=auth(key)
        )
    ).json()["variants"][0]["id"]
    await app_client.put(
        "/api/v1/catalog/stock",
        json={"items": [{"variant_id": variant, "location": "UTR-01", "quantity": 1}]},
        headers=auth(key),
    )
    # Tuesday 2025-06-03 10:00 UTC = 12:00 in the Netherlands, 06:00 in New York.
    at = "2025-06-03T10:00:00Z"
    near_utrecht = {"lat": 52.09, "lon": 5.12, "at": at}
    nearest = (
        await app_client.get("/api/v1/stores", params=near_utrecht, headers=auth(key))
    ).json()
    assert [s["code"] for s in nearest] == ["UTR-01", "AMS-01", "NYC-01"]
    assert nearest[0]["distance_km"] < 1 and 30 < nearest[1]["distance_km"] < 40
    assert nearest[0]["status"]["open"] is False  # Tuesday opens at 13:00
    assert nearest[0]["status"]["next_opening"] == "2025-06-03T13:00:00+02:00"
    open_now = (
        await app_client.get(
            "/api/v1/stores", params={**near_utrecht, "open_now": "true"}, headers=auth(key)
        )
    ).json()
    assert [s["code"] for s in open_now] == ["AMS-01"]
    stocked = (
        await app_client.get(
            "/api/v1/stores", params={**near_utrecht, "variant_id": variant}, headers=auth(key)
        )
    ).json()
    assert [(s["code"], s["stock"]) for s in stocked] == [("UTR-01", 1)]
    christmas = (
        await app_client.get("/api/v1/stores/AMS-01?at=2025-12-25T10:00:00Z", headers=auth(key))
    ).json()
    assert christmas["status"]["open"] is False and christmas["status"]["note"] == "Christmas"
    with_service = await app_client.get("/api/v1/stores?service=alterations", headers=auth(key))
    assert [s["code"] for s in with_service.json()] == ["AMS-01"]
    bad = await app_client.put(
        "/api/v1/stores/BAD", json={"name": "Bad", "opening_hours": {"mon": ["9-5"]}},
        headers=auth(key),
    )  # fmt: skip
    assert bad.status_code == 422 and "not a time range" in bad.json()["detail"]
    naive = await app_client.get("/api/v1/stores?at=2025-06-03T10:00:00", headers=auth(key))
    assert naive.status_code == 422


async def test_shipping_methods_quote_and_estimate(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    key = workspace["api_key"]
    method = {
        "name": "PostNL", "carrier": "PostNL", "countries": ["nl"], "price": "4.95",
        "free_over": "75.00", "cutoff": "17:00", "transit_days_min": 1, "transit_days_max": 2,
        "holidays": ["2025-12-25"],
    }  # fmt: skip
    assert (
        await app_client.put("/api/v1/shipping/methods/postnl", json=method, headers=auth(key))
    ).status_code == 200
    await app_client.put(
        "/api/v1/shipping/methods/bpost",
        json={**method, "name": "bpost", "countries": ["BE"], "timezone": "Europe/Brussels"},
        headers=auth(key),
    )
    # Friday 2025-06-06 15:30 UTC is 17:30 in Amsterdam: after the cut-off.
    listed = (
        await app_client.get(
            "/api/v1/shipping/methods",
            params={"country": "NL", "subtotal": "80.00", "at": "2025-06-06T15:30:00Z"},
            headers=auth(key),
        )
    ).json()
    assert [m["code"] for m in listed] == ["postnl"]
    assert listed[0]["quote"] == {"amount": "0.00", "currency": "EUR"}
    assert listed[0]["estimate"] == {
        "dispatch_date": "2025-06-09",
        "earliest": "2025-06-10",
        "latest": "2025-06-11",
        "order_before": "2025-06-09T17:00:00+02:00",
    }
    bad = await app_client.put(
        "/api/v1/shipping/methods/x", json={**method, "timezone": "Nowhere/City"}, headers=auth(key)
    )
    assert bad.status_code == 422 and "unknown time zone" in bad.json()["detail"]
    theirs = await other_key(ctx)
    assert (await app_client.get("/api/v1/shipping/methods", headers=auth(theirs))).json() == []
    assert (await app_client.get("/api/v1/stores", headers=auth(theirs))).json() == []
