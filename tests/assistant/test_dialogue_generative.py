"""The assistant with the generative layer on, through the real pipeline (the conversation-test
runner on the seeded demo shop) against a real OpenAI-compatible server on loopback: knowledge
answers come from the model grounded in the retrieved articles and cite them; prices never go
to the model; an invented number, an error or a slow endpoint falls back to the article."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from tests.assistant.llm_server import FakeLLM

from toonbank.assistant.convtests.runner import Outcome, Runner
from toonbank.assistant.convtests.session import demo_runner
from toonbank.assistant.convtests.spec import Conversation
from toonbank.assistant.dialogue.texts import say
from toonbank.assistant.generative import GenerativeLayer
from toonbank.knowledge.retrieval import search_knowledge
from toonbank.models import ContactIdentity
from toonbank.models import Conversation as ConversationRow

pytestmark = pytest.mark.timeout(600)

RETURNS = "https://demo.toonbank.local/help/returns"
SHIPPING = "https://demo.toonbank.local/help/shipping"
RETURN_QUESTION = "what is your return policy?"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _reset(llm: FakeLLM) -> None:
    llm.reply = None
    llm.requests.clear()


def on(llm: FakeLLM, model: str, timeout: float = 5.0) -> dict[str, Any]:
    return {
        "llm_enabled": True,
        "llm_base_url": llm.base_url,
        "llm_model": model,
        "llm_timeout": timeout,
    }


async def talk(runner: Runner, user: str, *says: str) -> Outcome:
    turns = [{"say": text} for text in says]
    conversation = Conversation.model_validate({"name": user, "user": user, "turns": turns})
    outcome = await runner.run(conversation)
    assert outcome.passed, outcome.to_json()
    return outcome


async def generation(runner: Runner, user: str) -> Any:
    """What the dialogue recorded about the layer on the customer's last turn."""
    async with runner.ctx.db.session() as session:
        state = await session.scalar(
            select(ConversationRow.bot_state)
            .join(ContactIdentity, ContactIdentity.contact_id == ConversationRow.contact_id)
            .where(
                ContactIdentity.workspace_id == runner.workspace_id,
                ContactIdentity.external_id == user,
            )
        )
    assert state is not None
    return state["last"].get("generation")


async def article(runner: Runner, question: str) -> str:
    """The deterministic answer: the best article's snippet with its source."""
    async with runner.ctx.db.session() as session:
        [hit] = await search_knowledge(session, runner.workspace_id, question, "en", 1)
    return f"{hit.snippet} {say('en', 'knowledge_source', source=hit.source)}"


def sent_to_model(llm: FakeLLM) -> str:
    return "\n".join(m["content"] for r in llm.requests for m in r["messages"])


async def test_knowledge_answers_are_the_models_grounded_and_cited(llm: FakeLLM) -> None:
    async with demo_runner(settings=on(llm, "ok")) as runner:
        assert runner.ctx.generative is not None  # built once, on the process's context
        llm.reply = "You can send unworn items back with their labels attached [1]."
        first = await talk(runner, "gen-returns", RETURN_QUESTION)
        replies = first.turns[0].replies
        answer = f"You can send unworn items back with their labels attached. (source: {RETURNS})"
        assert answer in replies
        assert replies.index(answer) < replies.index(say("en", "ask_order"))
        assert await generation(runner, "gen-returns") == "generated"
        [request] = llm.requests
        system, user = (m["content"] for m in request["messages"])
        assert user == RETURN_QUESTION
        assert "[1] Returns and exchanges:" in system

        llm.requests.clear()
        llm.reply = "We ship to the Netherlands and Belgium with PostNL, bpost and DHL [1]."
        shipping = await talk(runner, "gen-shipping", "how much is shipping?")
        replies = shipping.turns[0].replies
        prices = next(r for r in replies if r.startswith(say("en", "delivery_intro")))
        assert "€" in prices  # the delivery costs: said from the shop's data ...
        assert "€" not in sent_to_model(llm)  # ... and never sent to (or said by) the model
        said = llm.reply.replace(" [1]", "")
        assert f"{said} (source: {SHIPPING})" in replies


async def test_invented_numbers_errors_and_slowness_fall_back_to_the_article(
    llm: FakeLLM,
) -> None:
    async with demo_runner(settings=on(llm, "hallucinate")) as runner:
        expected = await article(runner, RETURN_QUESTION)
        llm.reply = "You can return items within 30 days [1]."  # + "€19.99" (hallucinate)
        invented = await talk(runner, "gen-invented", RETURN_QUESTION)
        assert expected in invented.turns[0].replies
        assert not any("19.99" in r for r in invented.turns[0].replies)
        assert await generation(runner, "gen-invented") == "unsupported_numbers"
        assert len(llm.requests) == 1

        llm.delay = 3.0
        for model, reason in (("error", "error"), ("slow", "timeout")):
            old = runner.ctx.generative
            assert old is not None
            settings = runner.ctx.settings.model_copy(
                update={"llm_model": model, "llm_timeout": 0.5}
            )
            runner.ctx.generative = GenerativeLayer.from_settings(settings)
            await old.aclose()
            before = len(llm.requests)
            failed = await talk(runner, f"gen-{model}", RETURN_QUESTION)
            assert expected in failed.turns[0].replies, model
            assert await generation(runner, f"gen-{model}") == reason
            assert len(llm.requests) == before + 1  # asked, then fell back
