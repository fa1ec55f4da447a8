"""The simulator refuses what the providers refuse, and its control API (``/_sim``)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from tests.simulator import account, connection

from toonbank.channels.base import SendError
from toonbank.channels.content import Text
from toonbank.channels.registry import default_registry
from toonbank.channels.wechat.api import forget_access_tokens
from toonbank.simulator.core import ProviderSimulator

PROVIDERS = ["whatsapp", "messenger", "instagram", "telegram", "twilio", "wechat", "line", "viber"]
RECIPIENTS = {
    "whatsapp": "31612345678",
    "messenger": "5678",
    "instagram": "5678",
    "telegram": "1111111",
    "twilio": "+31612345678",
    "wechat": "oCustomer",
    "line": "U206d25c2ea6bd87c17655609a1c37cb8",
    "viber": "xy5/5y6O81+/kbWHpLhBoA==",
}
WRONG = {
    "whatsapp": "access_token",
    "messenger": "page_access_token",
    "instagram": "page_access_token",
    "telegram": "bot_token",
    "twilio": "auth_token",
    "wechat": "app_secret",
    "line": "channel_access_token",
    "viber": "auth_token",
}
"""The credential each provider checks on a send."""


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_sends_with_the_right_credentials_pass_and_wrong_ones_are_refused(
    provider_sim: ProviderSimulator, provider: str
) -> None:
    """Each adapter's send reaches the simulator; a wrong credential is the provider's auth
    error, which the adapter classifies as ``auth`` (permanent)."""
    adapter = default_registry().get(provider)
    acc = account(provider_sim, provider)
    good = connection(acc)
    forget_access_tokens()
    async with httpx.AsyncClient() as http:
        result = await adapter.send(
            http, good, RECIPIENTS[provider], Text(text="hello"), idempotency_key="k-1"
        )
        [accepted] = provider_sim.sent_to(provider, RECIPIENTS[provider])
        assert accepted.text == "hello"
        if provider != "wechat":  # WeChat's customer-service API answers no message id
            assert result.provider_message_id == accepted.message_id
        key = WRONG[provider]
        wrong = "8:" + "x" * 20 if provider == "telegram" else "0" * len(acc.settings[key])
        bad = dataclasses.replace(good, id="other", secrets={**good.secrets, key: wrong})
        with pytest.raises(SendError) as refused:
            await adapter.send(
                http, bad, RECIPIENTS[provider], Text(text="hello"), idempotency_key="k-2"
            )
    assert refused.value.error_code == "auth" and not refused.value.retryable
    assert provider_sim.calls_for(provider)[-1].outcome == "unauthorized"
    assert len(provider_sim.sent_to(provider)) == 1


def test_bodies_are_validated_like_the_provider(provider_sim: ProviderSimulator) -> None:
    base = provider_sim.base_url
    with httpx.Client() as http:
        wa = account(provider_sim, "whatsapp")
        buttons = [{"type": "reply", "reply": {"id": str(i), "title": f"B{i}"}} for i in range(4)]
        answer = http.post(
            f"{wa.api_base}/v21.0/{wa.settings['phone_number_id']}/messages",
            headers={"authorization": f"Bearer {wa.settings['access_token']}"},
            json={
                "messaging_product": "whatsapp",
                "to": "316",
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "?"},
                    "action": {"buttons": buttons},
                },
            },
        )
        assert answer.status_code == 400 and answer.json()["error"]["code"] == 131009

        tg = account(provider_sim, "telegram")
        keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "x" * 65}]]}
        answer = http.post(
            f"{tg.api_base}/bot{tg.settings['bot_token']}/sendMessage",
            json={"chat_id": 1, "text": "?", "reply_markup": keyboard},
        )
        assert answer.status_code == 400
        assert answer.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"

        tw = account(provider_sim, "twilio")
        answer = http.post(
            f"{tw.api_base}/2010-04-01/Accounts/{tw.key}/Messages.json",
            auth=(tw.key, tw.settings["auth_token"]),
            data={"To": "+31612345678", "From": tw.settings["from_number"], "Body": "x" * 1601},
        )
        assert answer.status_code == 400 and answer.json()["code"] == 21617

        line = account(provider_sim, "line")
        answer = http.post(
            f"{line.api_base}/v2/bot/message/push",
            headers={"authorization": f"Bearer {line.key}"},
            json={"to": "U1", "messages": [{"type": "text", "text": "x"}] * 6},
        )
        assert answer.status_code == 400
        assert answer.json()["details"][0]["property"] == "messages"

        viber = account(provider_sim, "viber")
        answer = http.post(
            f"{viber.api_base}/pa/send_message",
            headers={"x-viber-auth-token": viber.key},
            json={"receiver": "r", "type": "text", "text": "x", "sender": {"name": "n" * 29}},
        )
        assert answer.status_code == 200 and answer.json()["status"] == 3

        messenger = account(provider_sim, "messenger")
        answer = http.post(
            f"{messenger.api_base}/v21.0/me/messages",
            params={"access_token": messenger.key},
            json={"recipient": {"id": "1"}, "message": {"text": "?", "quick_replies": [{}]}},
        )
        assert answer.status_code == 400 and answer.json()["error"]["code"] == 100
    assert [c.outcome for c in provider_sim.calls] == ["invalid"] * 6
    assert provider_sim.sent == []
    assert base


def test_faults_match_provider_recipient_and_count(provider_sim: ProviderSimulator) -> None:
    provider_sim.fail("telegram", "server_error", recipient="1", times=2)
    assert provider_sim.take_fault("telegram", "2", "send") is None  # another customer
    assert provider_sim.take_fault("whatsapp", "1", "send") is None  # another provider
    assert provider_sim.take_fault("telegram", "1", "receipt") is None  # another phase
    assert provider_sim.take_fault("telegram", "1", "send") is not None
    assert provider_sim.take_fault("telegram", "1", "send") is not None
    assert provider_sim.take_fault("telegram", "1", "send") is None  # used up
    with pytest.raises(ValueError, match="telegram has no 'window_closed' fault"):
        provider_sim.fail("telegram", "window_closed")  # Telegram has no messaging window
    with pytest.raises(ValueError, match="unknown fault kind"):
        provider_sim.fail("telegram", "meltdown")


def test_control_api(provider_sim: ProviderSimulator) -> None:
    control = f"{provider_sim.base_url}/_sim"
    with httpx.Client() as http:
        assert http.post(f"{control}/faults", json={"kind": "meltdown"}).status_code == 400
        queued = http.post(
            f"{control}/faults",
            json=[
                {"provider": "line", "kind": "rate_limited", "retry_after": 2},
                {"provider": "viber", "kind": "opted_out", "on": "receipt"},
            ],
        )
        assert queued.json() == {"queued": 2}
        assert http.delete(f"{control}/faults").json() == {"queued": 0}
        # No account yet, then no webhook yet: clear answers, nothing posted.
        assert http.post(f"{control}/line/customer", json={"text": "hi"}).status_code == 404
        provider_sim.add_account("line")
        answer = http.post(f"{control}/line/customer", json={"text": "hi"})
        assert answer.status_code == 409 and "webhook" in answer.json()["error"]
        refused = http.post(f"{control}/line/webhook", json={"url": "http://127.0.0.1:9/none"})
        assert refused.status_code == 502
        assert http.post(f"{control}/nope/webhook", json={"url": "x"}).status_code == 404
        overview = http.get(control).json()["providers"]
    assert overview["line"]["api_base"] == f"{provider_sim.base_url}/line"
    assert overview["line"]["accounts"][0]["settings"]["channel_access_token"]
    assert provider_sim.posted == []
