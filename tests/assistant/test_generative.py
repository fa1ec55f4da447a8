"""The generative layer against a real OpenAI-compatible HTTP server on loopback: the SDK's
wire format, grounding and citations, and every fallback (off, error, timeout, guard)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.assistant.llm_server import FakeLLM

from toonbank.assistant.generative import NO_ANSWER, GenerativeLayer
from toonbank.config import Settings
from toonbank.knowledge import KnowledgeHit

RETURNS = KnowledgeHit(
    article_id="a1",
    title="Returns and exchanges",
    snippet="You can return items within 30 days of delivery, unworn and with labels.",
    source="https://shop.example/help/returns",
    score=0.95,
)
PAYMENT = KnowledgeHit(
    article_id="a2",
    title="Payment methods",
    snippet="You can pay with iDEAL, Bancontact, credit card, PayPal and Klarna.",
    source="payment",
    score=0.9,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _reset(server: FakeLLM) -> None:
    server.reply = None
    server.requests.clear()
    server.auth.clear()


def layer(server: FakeLLM, model: str = "ok", timeout: float = 2.0) -> GenerativeLayer:
    return GenerativeLayer(
        base_url=server.base_url, model=model, api_key="sk-test", timeout=timeout
    )


def test_off_by_default() -> None:
    assert GenerativeLayer.from_settings(Settings()) is None
    assert GenerativeLayer.from_settings(Settings(llm_enabled=True)) is None  # no endpoint
    on = GenerativeLayer.from_settings(
        Settings(llm_enabled=True, llm_base_url="http://127.0.0.1:9/v1", llm_model="m")
    )
    assert on is not None and on.model == "m"


async def test_rephrase_uses_the_model_and_sends_the_wire_format(server: FakeLLM) -> None:
    server.reply = "Goed nieuws: je bestelling 4412 is onderweg en komt morgen aan."
    result = await layer(server).rephrase(
        "Bestelling 4412 is verzonden. Verwachte bezorging: morgen.", "nl"
    )
    assert result.generated and result.fallback_reason is None
    assert result.text == server.reply
    [request] = server.requests
    assert request["model"] == "ok" and request["max_tokens"] > 0
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert "Dutch" in request["messages"][0]["content"]
    assert request["messages"][1]["content"].startswith("Bestelling 4412")
    assert server.auth == ["Bearer sk-test"]


async def test_guard_rejects_an_invented_price(server: FakeLLM) -> None:
    deterministic = "Your order 4412 has been shipped."
    server.reply = "Great news, your order 4412 is on its way."
    result = await layer(server, "hallucinate").rephrase(deterministic, "en")
    assert not result.generated
    assert result.fallback_reason == "unsupported_numbers"
    assert result.text == deterministic


async def test_guard_rejects_an_invented_order_number_or_quantity(server: FakeLLM) -> None:
    server.reply = "Your order 4413 has been shipped."  # one digit off
    result = await layer(server).rephrase("Your order 4412 has been shipped.", "en")
    assert (result.generated, result.fallback_reason) == (False, "unsupported_numbers")
    server.reply = "Only 2 left in size M!"
    result = await layer(server).rephrase("Size M is in stock.", "en")
    assert (result.generated, result.text) == (False, "Size M is in stock.")


async def test_numbers_from_the_context_are_allowed(server: FakeLLM) -> None:
    server.reply = "That blazer costs €129,95 and size 50 is available."
    result = await layer(server).rephrase(
        "Blazer: 129.95 EUR.", "en", context=["do you have it in size 50?"]
    )
    assert result.generated and result.text == server.reply


async def test_error_and_timeout_fall_back(server: FakeLLM) -> None:
    text = "Our stores open at 10:00."
    failed = await layer(server, "error").rephrase(text, "en")
    assert (failed.text, failed.generated, failed.fallback_reason) == (text, False, "error")
    server.delay = 2.0
    slow = await layer(server, "slow", timeout=0.3).rephrase(text, "en")
    assert (slow.text, slow.generated, slow.fallback_reason) == (text, False, "timeout")


async def test_unreachable_endpoint_falls_back() -> None:
    dead = GenerativeLayer(base_url="http://127.0.0.1:9/v1", model="m", timeout=1.0)
    result = await dead.translate("Hello", "nl")
    assert (result.text, result.generated, result.fallback_reason) == ("Hello", False, "error")


async def test_answer_is_grounded_and_cites_its_source(server: FakeLLM) -> None:
    server.reply = "Je kunt artikelen binnen 30 dagen na bezorging retourneren [1]."
    result = await layer(server).answer(
        "hoe lang mag ik iets terugsturen?", "nl", [RETURNS, PAYMENT], fallback="fallback"
    )
    assert result.generated
    assert result.text == "Je kunt artikelen binnen 30 dagen na bezorging retourneren."
    assert result.citations == ("https://shop.example/help/returns",)
    system = server.requests[0]["messages"][0]["content"]
    assert "[1] Returns and exchanges: You can return items within 30 days" in system
    assert "[2] Payment methods" in system and NO_ANSWER in system


async def test_answer_falls_back_when_uncited_unanswerable_or_inventing(server: FakeLLM) -> None:
    hits = [RETURNS]
    server.reply = "Sure, returns are easy."
    assert (await layer(server).answer("q", "en", hits, fallback="F")).fallback_reason == (
        "uncited"
    )
    server.reply = NO_ANSWER
    assert (await layer(server).answer("q", "en", hits, fallback="F")).fallback_reason == (
        "no_answer"
    )
    server.reply = "Returns within 30 days [1]."
    invented = await layer(server, "hallucinate").answer("q", "en", hits, fallback="F")
    assert (invented.text, invented.fallback_reason) == ("F", "unsupported_numbers")
    server.reply = "Returns within 60 days [1]."
    wrong = await layer(server).answer("q", "en", hits, fallback="F")
    assert (wrong.text, wrong.fallback_reason) == ("F", "unsupported_numbers")
    before = len(server.requests)
    nothing = await layer(server).answer("q", "en", [], fallback="F")
    assert (nothing.text, nothing.fallback_reason) == ("F", "no_answer")
    assert len(server.requests) == before  # no snippets: the model is not asked at all


async def test_translate(server: FakeLLM) -> None:
    server.reply = "Je pakket wordt binnen 1 tot 2 werkdagen bezorgd."
    result = await layer(server).translate("Your parcel arrives in 1 to 2 working days.", "nl")
    assert result.generated and result.text == server.reply
    assert "Dutch" in server.requests[0]["messages"][0]["content"]
    server.reply = "Je pakket wordt binnen 3 werkdagen bezorgd."
    bad = await layer(server).translate("Your parcel arrives in 1 to 2 working days.", "nl")
    assert (bad.generated, bad.fallback_reason) == (False, "unsupported_numbers")
