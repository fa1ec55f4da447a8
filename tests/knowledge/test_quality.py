"""Retrieval quality on the demo help centre with the labelled multilingual question set
(the numbers in docs/benchmarks.md come from bench/knowledge.py on the same data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toonbank.context import Context
from toonbank.knowledge.demo import seed_knowledge
from toonbank.knowledge.evaluation import evaluate_retrieval, read_questions
from toonbank.knowledge.retrieval import MIN_SCORE

pytestmark = pytest.mark.timeout(600)
QUESTIONS = Path(__file__).parent / "questions.csv"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # quality does not depend on the database; the service tests cover both


async def test_demo_help_centre_answers_questions_in_many_languages(
    ctx: Context, workspace: dict[str, str]
) -> None:
    seeded = await seed_knowledge(ctx.db, workspace["id"])
    assert seeded is not None and seeded.created == 16
    assert await seed_knowledge(ctx.db, workspace["id"]) is None  # once only
    questions = read_questions(QUESTIONS.read_text())
    assert len({q.language for q in questions}) == 9
    async with ctx.db.session() as session:
        result = await evaluate_retrieval(session, workspace["id"], questions, (MIN_SCORE,))
    assert result["hit_at_3"] >= 0.95
    assert result["hit_at_1"] >= 0.8
    assert result["hit_at_1_per_language"]["nl"] >= 0.85
    assert result["hit_at_1_per_language"]["en"] >= 0.85
    [at_default] = result["at_threshold"]
    assert at_default["hit_at_1"] == result["hit_at_1"]  # the threshold loses no first hit
    assert at_default["oos_rejected"] > 0
