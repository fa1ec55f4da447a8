"""One customer across channels: identities with the same phone number join one contact."""

from __future__ import annotations

import httpx
import pytest
from tests.helpers import api_connection, count, post_signed

from toonbank.contacts.service import normalize_phone
from toonbank.context import Context
from toonbank.models import Contact, ContactIdentity, Conversation, Message
from toonbank.pipeline.worker import Worker


def _from(msg_id: str, sender: str, phone: str | None) -> dict[str, object]:
    return {
        "messages": [
            {
                "id": msg_id,
                "from": sender,
                "phone": phone,
                "content": {"type": "text", "text": f"hello from {sender}"},
            }
        ]
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+31612345678", "+31612345678"),
        ("31612345678", "+31612345678"),
        ("0031612345678", "+31612345678"),
        ("+31 6 1234 5678", "+31612345678"),
        ("12", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_phone(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


async def test_same_phone_on_two_channels_is_one_customer_one_conversation(
    ctx: Context, workspace: dict[str, str], app_client: httpx.AsyncClient
) -> None:
    whatsapp = await api_connection(ctx, workspace["id"])
    sms = await api_connection(ctx, workspace["id"])
    await post_signed(app_client, whatsapp.id, _from("w1", "wa-31612345678", "+31612345678"))
    await Worker(ctx).drain()
    await post_signed(app_client, sms.id, _from("s1", "sms-user", "0031 6 12345678"))
    await Worker(ctx).drain()
    assert await count(ctx, Contact) == 1
    assert await count(ctx, ContactIdentity) == 2
    assert await count(ctx, Conversation) == 1
    assert await count(ctx, Message, Message.direction == "in") == 2
    # Someone else (another number, or none) stays a different customer.
    await post_signed(app_client, sms.id, _from("s2", "other", "+31687654321"))
    await post_signed(app_client, sms.id, _from("s3", "anonymous", None))
    await Worker(ctx).drain()
    assert await count(ctx, Contact) == 3
