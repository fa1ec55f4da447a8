"""What the assistant hands over (reason, intent, what was asked, the cart) reaches the agent's
conversation view."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from toonbank.assistant.convtests import spec
from toonbank.assistant.convtests.session import demo_runner
from toonbank.inbox.api import handover_view
from toonbank.models import Conversation

pytestmark = pytest.mark.timeout(300)

SCRIPT = """
name: Blazer in the cart, then a person (en)
turns:
  - say: "I'm looking for a blue blazer in size 50"
    expect: {cards: {min: 1}}
  - tap: "Add to cart"
  - say: "I want to talk to a person"
    expect: {handover: true}
"""


async def test_the_agent_sees_what_the_assistant_handed_over(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "handover.yaml"
    path.write_text(SCRIPT)
    async with demo_runner() as runner:
        [outcome] = [await runner.run(c) for c in spec.load(path)]
        assert outcome.passed, outcome.to_json()
        async with runner.ctx.db.session() as session:
            conversation = await session.scalar(
                select(Conversation).where(
                    Conversation.workspace_id == runner.workspace_id,
                    Conversation.status == "queued",
                )
            )
    assert conversation is not None
    view = handover_view(conversation.bot_state)
    assert view is not None
    assert view["intent"] == "human_handover"
    assert view["slots"]["colour"] and view["slots"]["size"] == "50"
    assert "blazer" in view["summary"].lower() or "blazer" in str(view["slots"]).lower()
    assert view["cart"]["lines"][0]["quantity"] == 1
    assert "blazer" in view["cart"]["lines"][0]["title"].lower()
    assert handover_view({}) is None and handover_view({"handover": {}}) is None
