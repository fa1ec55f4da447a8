"""Assistant REST API: scopes, workspace intents, understanding, evaluation (both backends)."""

from __future__ import annotations

import httpx
import pytest

from toonbank.assistant.engine import UnderstandingEngine
from toonbank.auth.service import create_api_key
from toonbank.context import Context
from toonbank.workspaces.service import create_workspace

pytestmark = pytest.mark.timeout(300)

BUSINESS_CSV = "text,intent,language\n" + "\n".join(
    [
        "do you sell gift cards,gift_card,en",
        "can I buy a voucher,gift_card,en",
        "cadeaubon kopen,gift_card,nl",
        "gibt es Gutscheine,gift_card,de",
        "carte cadeau,gift_card,fr",
        "tarjeta regalo,gift_card,es",
    ]
)


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_scopes_and_validation(
    app_client: httpx.AsyncClient, ctx: Context, workspace: dict[str, str]
) -> None:
    body = {"text": "hi"}
    assert (await app_client.post("/api/v1/assistant/understand", json=body)).status_code == 401
    async with ctx.db.uow() as uow:
        catalog = await create_api_key(uow.session, workspace["id"], ["catalog:read"])
        reader = await create_api_key(uow.session, workspace["id"], ["assistant:read"])
    denied = await app_client.post("/api/v1/assistant/understand", json=body, headers=auth(catalog))
    assert denied.status_code == 403 and "assistant:read" in denied.json()["detail"]
    ok = await app_client.post("/api/v1/assistant/understand", json=body, headers=auth(reader))
    assert ok.status_code == 200 and ok.json()["intent"] == "greeting"
    write = await app_client.post(
        "/api/v1/assistant/intents/import", json={"csv": BUSINESS_CSV}, headers=auth(reader)
    )
    assert write.status_code == 403
    both = await app_client.post(
        "/api/v1/assistant/understand", json={"text": "a", "texts": ["b"]}, headers=auth(reader)
    )
    assert both.status_code == 422
    bad_csv = await app_client.post(
        "/api/v1/assistant/intents/import",
        json={"csv": "message,label\nhi,greeting\n"},
        headers=auth(workspace["api_key"]),
    )
    assert bad_csv.status_code == 422 and "text,intent" in bad_csv.text


async def test_business_intents_are_per_workspace(
    app_client: httpx.AsyncClient,
    ctx: Context,
    workspace: dict[str, str],
    engine: UnderstandingEngine,
) -> None:
    key = workspace["api_key"]
    imported = await app_client.post(
        "/api/v1/assistant/intents/import", json={"csv": BUSINESS_CSV}, headers=auth(key)
    )
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"added": 6, "unchanged": 0, "intents": {"gift_card": 6}}
    again = await app_client.post(
        "/api/v1/assistant/intents/import",
        json={"examples": [{"text": "Do you sell GIFT cards?", "intent": "gift_card"}]},
        headers=auth(key),
    )
    assert again.json()["added"] == 0 and again.json()["unchanged"] == 1
    listed = (await app_client.get("/api/v1/assistant/intents", headers=auth(key))).json()
    assert listed["business"] == {"gift_card": 6} and "order_status" in listed["builtin"]

    texts = ["puedo comprar una tarjeta regalo?", "waar is mijn pakket"]
    mine = await app_client.post(
        "/api/v1/assistant/understand", json={"texts": texts}, headers=auth(key)
    )
    assert mine.status_code == 200, mine.text
    results = mine.json()["results"]
    assert [r["intent"] for r in results] == ["gift_card", "order_status"]
    assert [r["language"] for r in results] == ["es", "nl"]

    async with ctx.db.uow() as uow:
        _ws, rival = await create_workspace(uow.session, ctx.secret_box, ctx.channels, "rival")
    theirs = await app_client.post(
        "/api/v1/assistant/understand", json={"text": texts[0]}, headers=auth(rival)
    )
    assert theirs.json()["intent"] != "gift_card"
    assert (await app_client.get("/api/v1/assistant/intents", headers=auth(rival))).json()[
        "business"
    ] == {}
    gone = await app_client.delete("/api/v1/assistant/intents/gift_card", headers=auth(rival))
    assert gone.status_code == 404
    removed = await app_client.delete("/api/v1/assistant/intents/gift_card", headers=auth(key))
    assert removed.json() == {"intent": "gift_card", "examples_removed": 6}


async def test_eval_endpoint_with_training_set(
    app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    test_csv = (
        "text,intent,language\n"
        "giftcard for my mum,gift_card,en\n"
        "cheque cadeau,gift_card,fr\n"
        "where is my parcel,order_status,en\n"
    )
    response = await app_client.post(
        "/api/v1/assistant/eval",
        json={"test": test_csv, "train": BUSINESS_CSV + "\nwhat's the weather,other,en\n"},
        headers=auth(workspace["api_key"]),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["n"] == 3 and report["oos_support"] == 1
    assert report["confusion"]["gift_card"] == {"gift_card": 2}
    assert report["language_accuracy"] == 1.0
    empty = await app_client.post(
        "/api/v1/assistant/eval", json={"test": "text,intent\n"}, headers=auth(workspace["api_key"])
    )
    assert empty.status_code == 422
