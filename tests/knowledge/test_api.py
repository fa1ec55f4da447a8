"""Knowledge REST API: scopes, CRUD scoped to the key's workspace, validation, search."""

from __future__ import annotations

import httpx
import pytest

from toonbank.auth.service import create_api_key
from toonbank.context import Context
from toonbank.workspaces.service import create_workspace

pytestmark = pytest.mark.timeout(300)

ARTICLE = {
    "title": "Payment methods",
    "body": "# Paying\n\nWe accept **iDEAL**, Bancontact, PayPal and Klarna.",
    "language": "en",
    "tags": ["Payment"],
    "source_url": "https://shop.test/help/payment",
}


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_crud_search_and_scopes(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    url = "/api/v1/knowledge/articles"
    async with ctx.db.uow() as uow:
        reader = await create_api_key(uow.session, workspace["id"], ["knowledge:read"])
        other, other_key = await create_workspace(
            uow.session, ctx.secret_box, ctx.channels, "other"
        )
    assert (await app_client.post(url, json=ARTICLE)).status_code == 401
    assert (await app_client.post(url, json=ARTICLE, headers=auth(reader))).status_code == 403
    created = await app_client.post(url, json=ARTICLE, headers=auth(workspace["api_key"]))
    assert created.status_code == 201, created.text
    article = created.json()
    assert (article["slug"], article["translation_key"], article["tags"]) == (
        "payment-methods", "payment-methods", ["payment"]
    )  # fmt: skip
    again = await app_client.post(url, json=ARTICLE, headers=auth(workspace["api_key"]))
    assert again.status_code == 409
    dutch = {**ARTICLE, "title": "Betaalmethoden", "language": "nl", "slug": "payment-methods"}
    dutch["body"] = "Je kunt betalen met iDEAL, Bancontact, PayPal en Klarna."
    assert (await app_client.post(url, json=dutch, headers=auth(workspace["api_key"]))).is_success

    listed = (await app_client.get(url, headers=auth(reader))).json()
    assert listed["total"] == 2 and {a["language"] for a in listed["articles"]} == {"en", "nl"}
    assert (await app_client.get(url, headers=auth(other_key))).json()["total"] == 0
    one = f"{url}/{article['id']}"
    assert (await app_client.get(one, headers=auth(other_key))).status_code == 404
    assert (await app_client.delete(one, headers=auth(other_key))).status_code == 404
    assert (await app_client.get(one, headers=auth(reader))).json()["title"] == "Payment methods"

    search = "/api/v1/knowledge/search"
    found = await app_client.get(
        search, params={"q": "kan ik met klarna betalen?", "language": "nl"}, headers=auth(reader)
    )
    assert found.status_code == 200
    hits = found.json()["hits"]
    assert hits[0]["language"] == "nl" and hits[0]["source"] == "https://shop.test/help/payment"
    assert len(hits) == 1  # the English translation is not a second hit
    assert (await app_client.get(search, params={"q": "klarna"}, headers=auth(other_key))).json()[
        "hits"
    ] == []

    patched = await app_client.patch(
        one,
        json={"body": "We accept iDEAL and credit cards only."},
        headers=auth(workspace["api_key"]),
    )
    assert patched.status_code == 200 and "credit cards" in patched.json()["body"]
    bad = await app_client.patch(
        one, json={"language": "english"}, headers=auth(workspace["api_key"])
    )
    assert bad.status_code == 422
    null = await app_client.patch(one, json={"title": None}, headers=auth(workspace["api_key"]))
    assert null.status_code == 422
    assert (await app_client.delete(one, headers=auth(reader))).status_code == 403
    assert (await app_client.delete(one, headers=auth(workspace["api_key"]))).status_code == 204
    assert (await app_client.get(one, headers=auth(reader))).status_code == 404
    huge = {**ARTICLE, "body": "x" * 100_001}
    assert (
        await app_client.post(url, json=huge, headers=auth(workspace["api_key"]))
    ).status_code == 422
    assert other.id != workspace["id"]
