"""The assistant's turns feed the assistant metrics: every answered message records an
``assistant.turn`` event in the turn's transaction, and a handover counts as one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from toonbank.assistant.convtests import spec
from toonbank.assistant.convtests.session import demo_runner
from toonbank.assistant.metrics import assistant_metrics
from toonbank.kit.clock import now

pytestmark = pytest.mark.timeout(300)

SCRIPT = """
name: Served by the assistant (en)
turns:
  - say: "how much is shipping?"
    expect: {intent: delivery_info}
  - say: "thanks, bye"
---
name: Wants a person (nl)
turns:
  - say: "ik wil een medewerker spreken"
    expect: {handover: true}
"""


async def test_assistant_turns_feed_the_metrics(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "metrics.yaml"
    path.write_text(SCRIPT)
    since = now() - timedelta(minutes=1)
    async with demo_runner() as runner:
        outcomes = [await runner.run(c) for c in spec.load(path)]
        assert [o.passed for o in outcomes] == [True, True], [o.to_json() for o in outcomes]
        async with runner.ctx.db.session() as session:
            metrics = await assistant_metrics(session, runner.workspace_id, since)
            other = await assistant_metrics(session, "no-such-workspace", since)
    assert metrics.turns == 3
    assert metrics.conversations == 2
    assert metrics.handovers == 1 and metrics.automated == 1
    assert metrics.intents["delivery_info"].turns == 1
    assert set(metrics.languages) == {"en", "nl"}
    assert other.turns == 0 and other.conversations == 0
