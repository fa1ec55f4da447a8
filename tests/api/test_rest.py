"""REST API: API keys, scopes, workspace isolation, sending, status changes, attempt log."""

from __future__ import annotations

import httpx
from tests.helpers import api_connection, message_payload, post_signed

from toonbank.auth.service import create_api_key
from toonbank.context import Context
from toonbank.pipeline.worker import Worker
from toonbank.workspaces.service import create_workspace


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def _conversation(ctx: Context, client: httpx.AsyncClient, ws: dict[str, str]) -> str:
    conn = await api_connection(ctx, ws["id"])
    await post_signed(client, conn.id, message_payload("m1", "cust", "hi"))
    await Worker(ctx).drain()
    response = await client.get("/api/v1/conversations", headers=_auth(ws["api_key"]))
    assert response.status_code == 200
    [conversation] = response.json()
    return str(conversation["id"])


async def test_wrong_or_missing_key_is_401(
    app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    assert (await app_client.get("/api/v1/conversations")).status_code == 401
    bad = await app_client.get("/api/v1/conversations", headers=_auth("tbk_nope_nope"))
    assert bad.status_code == 401
    assert bad.json()["error"] == "unauthorized"
    almost = workspace["api_key"][:-1] + ("A" if workspace["api_key"][-1] != "A" else "B")
    assert (await app_client.get("/api/v1/conversations", headers=_auth(almost))).status_code == 401
    me = await app_client.get("/api/v1/workspace", headers=_auth(workspace["api_key"]))
    assert me.json()["name"] == "acme"


async def test_scopes_are_enforced(
    ctx: Context, app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    async with ctx.db.uow() as uow:
        reader = await create_api_key(uow.session, workspace["id"], ["conversations:read"])
    cid = await _conversation(ctx, app_client, workspace)
    assert (
        await app_client.get(f"/api/v1/conversations/{cid}", headers=_auth(reader))
    ).status_code == 200
    denied = await app_client.post(
        f"/api/v1/conversations/{cid}/messages",
        json={"content": {"type": "text", "text": "hello"}},
        headers=_auth(reader),
    )
    assert denied.status_code == 403
    assert (await app_client.get("/api/v1/channels", headers=_auth(reader))).status_code == 403


async def test_other_workspace_cannot_see_or_touch_conversation(
    ctx: Context, app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    cid = await _conversation(ctx, app_client, workspace)
    async with ctx.db.uow() as uow:
        _other, other_key = await create_workspace(
            uow.session, ctx.secret_box, ctx.channels, "other"
        )
    headers = _auth(other_key)
    assert (
        await app_client.get(f"/api/v1/conversations/{cid}", headers=headers)
    ).status_code == 404
    assert (
        await app_client.get(f"/api/v1/conversations/{cid}/messages", headers=headers)
    ).status_code == 404
    sent = await app_client.post(
        f"/api/v1/conversations/{cid}/messages",
        json={"content": {"type": "text", "text": "x"}},
        headers=headers,
    )
    assert sent.status_code == 404
    status = await app_client.post(
        f"/api/v1/conversations/{cid}/status", json={"status": "closed"}, headers=headers
    )
    assert status.status_code == 404
    assert (await app_client.get("/api/v1/conversations", headers=headers)).json() == []
    messages = await app_client.get(
        f"/api/v1/conversations/{cid}/messages", headers=_auth(workspace["api_key"])
    )
    first_id = messages.json()[0]["id"]
    assert (
        await app_client.get(f"/api/v1/messages/{first_id}", headers=headers)
    ).status_code == 404


async def test_agent_message_is_queued_and_delivered_with_attempt_log(
    ctx: Context, app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    cid = await _conversation(ctx, app_client, workspace)
    headers = _auth(workspace["api_key"])
    quick = {
        "content": {
            "type": "quick_replies",
            "text": "Which size?",
            "options": [{"title": "M", "payload": "size:m"}, {"title": "L", "payload": "size:l"}],
        }
    }
    response = await app_client.post(
        f"/api/v1/conversations/{cid}/messages", json=quick, headers=headers
    )
    assert response.status_code == 202
    [queued] = response.json()
    assert queued["status"] == "queued" and queued["sender"] == "agent"
    await Worker(ctx).drain()
    # The API channel has no api_base_url in this test: the send fails for good, visibly.
    detail = (await app_client.get(f"/api/v1/messages/{queued['id']}", headers=headers)).json()
    assert detail["status"] == "failed"
    assert detail["error_code"] == "config"
    assert [a["outcome"] for a in detail["attempts_log"]] == ["failed"]


async def test_invalid_requests_are_422_with_clear_errors(
    ctx: Context, app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    cid = await _conversation(ctx, app_client, workspace)
    headers = _auth(workspace["api_key"])
    bad = await app_client.post(
        f"/api/v1/conversations/{cid}/messages", json={"content": {"type": "text"}}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_request"
    malformed = await app_client.post(
        f"/api/v1/conversations/{cid}/messages",
        content=b"{oops",
        headers={**headers, "content-type": "application/json"},
    )
    assert malformed.status_code == 422
    assert malformed.json()["error"] == "invalid_json"


async def test_status_transitions_follow_the_state_machine(
    ctx: Context, app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    cid = await _conversation(ctx, app_client, workspace)
    headers = _auth(workspace["api_key"])
    url = f"/api/v1/conversations/{cid}/status"
    queued = await app_client.post(url, json={"status": "queued", "reason": "vip"}, headers=headers)
    assert queued.json()["status"] == "queued"
    back = await app_client.post(url, json={"status": "bot"}, headers=headers)
    assert back.json()["status"] == "bot"
    closed = await app_client.post(
        url, json={"status": "closed", "reason": "done"}, headers=headers
    )
    assert closed.json()["close_reason"] == "done"
    reopen = await app_client.post(url, json={"status": "bot"}, headers=headers)
    assert reopen.status_code == 409
    assert reopen.json()["error"] == "invalid_transition"


async def test_channels_api_creates_connection_with_sealed_secret(
    ctx: Context, app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    headers = _auth(workspace["api_key"])
    created = await app_client.post(
        "/api/v1/channels",
        json={
            "type": "api",
            "name": "erp",
            "settings": {"webhook_secret": "s3cret-value"},
            "api_base_url": "http://127.0.0.1:9/",
        },
        headers=headers,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["webhook_url"].endswith(f"/webhooks/{body['id']}")
    assert "webhook_secret" not in body["settings"]
    from toonbank.models import ChannelConnection

    async with ctx.db.session() as session:
        row = await session.get(ChannelConnection, body["id"])
    assert row is not None and "s3cret-value" not in row.secrets_encrypted
    missing = await app_client.post(
        "/api/v1/channels", json={"type": "api", "name": "x"}, headers=headers
    )
    assert missing.status_code == 422 and missing.json()["error"] == "invalid_settings"
    unknown = await app_client.post(
        "/api/v1/channels", json={"type": "pigeon", "name": "y"}, headers=headers
    )
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_channel_type"


async def test_ops_endpoints_and_openapi(
    app_client: httpx.AsyncClient, workspace: dict[str, str]
) -> None:
    assert (await app_client.get("/healthz")).json() == {"status": "ok"}
    assert (await app_client.get("/readyz")).status_code == 200
    metrics = (await app_client.get("/metrics")).text
    assert "toonbank_queue_depth" in metrics and "toonbank_messages_in_total" in metrics
    spec = (await app_client.get("/openapi.json")).json()
    assert "/api/v1/conversations" in spec["paths"]
    cors = await app_client.options(
        "/api/v1/conversations",
        headers={"origin": "https://evil.test", "access-control-request-method": "GET"},
    )
    assert "access-control-allow-origin" not in cors.headers
