"""Retrieval quality on the demo help centre with the labelled multilingual question set
(the numbers in docs/benchmarks.md come from bench/knowledge.py on the same data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toonbank.assistant.nlu.encoders import default_encoder
from toonbank.context import Context
from toonbank.knowledge.demo import DEMO_ARTICLES, precomputed, seed_knowledge
from toonbank.knowledge.evaluation import evaluate_retrieval, read_questions
from toonbank.knowledge.markdown import chunks
from toonbank.knowledge.retrieval import MIN_SCORE
from toonbank.knowledge.service import passage_key
from toonbank.knowledge.sources import read_path

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


def test_shipped_demo_vectors_are_current() -> None:
    """Every demo passage has its precomputed vector, equal to what the encoder gives now
    (rebuild with ``python -m toonbank.knowledge.demo`` after editing the articles)."""
    encoder = default_encoder()
    texts = [t for a in read_path(DEMO_ARTICLES) for t in chunks(a.title, a.body)]
    table = precomputed()
    keys = [passage_key(encoder.name, t) for t in texts]
    assert set(keys) <= set(table)
    fresh = encoder.encode(texts[:3])
    for key, vector in zip(keys[:3], fresh, strict=True):
        shipped = np.frombuffer(table[key], dtype=np.float32)
        assert np.allclose(shipped, vector, atol=1e-4)
