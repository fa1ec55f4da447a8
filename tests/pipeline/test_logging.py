"""Logs carry ids, never message bodies or secrets (by default)."""

from __future__ import annotations

import httpx
import pytest
from tests.helpers import SECRET, api_connection, message_payload, post_signed

from toonbank.context import Context
from toonbank.ops.logging import configure_logging
from toonbank.pipeline.worker import Worker


async def test_no_bodies_or_secrets_in_debug_logs(
    ctx: Context,
    workspace: dict[str, str],
    app_client: httpx.AsyncClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG", json_lines=True)
    try:
        conn = await api_connection(ctx, workspace["id"])
        body = "my card is 4111 1111 1111 1111 and my address is Secret Lane 7"
        await post_signed(app_client, conn.id, message_payload("p1", "c", body))
        await post_signed(app_client, conn.id, message_payload("p2", "c", "x"), secret="forged")
        await Worker(ctx).drain()
    finally:
        configure_logging("INFO")
    logs = capsys.readouterr()
    text = logs.out + logs.err
    assert conn.id in text  # ids are there to correlate
    assert "4111" not in text and "Secret Lane" not in text
    assert SECRET not in text and workspace["api_key"] not in text
