"""Every shipped conversation test (``conversations/``) passes, through the real pipeline on one
freshly seeded demo database (what ``toonbank test conversations/`` does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toonbank.assistant.convtests import spec
from toonbank.assistant.convtests.session import run_all

CONVERSATIONS = Path(__file__).resolve().parents[2] / "conversations"
pytestmark = pytest.mark.timeout(900)


def test_at_least_sixty_conversations_cover_every_flow_in_several_languages() -> None:
    conversations = spec.load(CONVERSATIONS)
    assert len(conversations) >= 60
    names = " ".join(c.name for c in conversations)
    for marker in ("(en)", "(nl)", "(de)", "(fr)", "(es)", "(it)", "(pt)", "(pl)", "(ro)"):
        assert marker in names
    steps = [s for c in conversations for s in c.turns]
    assert any(s.order for s in steps) and any(s.agent_returns for s in steps)
    assert any(c.channel == "terminal" for c in conversations)


async def test_shipped_conversations_pass() -> None:
    outcomes = await run_all(spec.load(CONVERSATIONS))
    failed = [o.to_json() for o in outcomes if not o.passed]
    assert failed == []
