"""Retrieval quality on a labelled question set: hit@1, hit@3 and the out-of-scope trade-off.

A question set is a CSV with ``question,language,expected``: ``expected`` is the translation
key of the article that answers it, or ``none`` when no article should (out of scope).
``hit@k`` counts answerable questions whose article is among the first ``k`` hits (no score
threshold); ``at_threshold`` shows, for the given minimum score, how many answerable
questions still get their article first and how many out-of-scope questions get nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.knowledge.retrieval import MIN_SCORE, search_knowledge
from toonbank.models import KnowledgeArticle

NONE = "none"


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    language: str | None
    expected: str


def read_questions(text: str) -> list[Question]:
    reader = csv.DictReader(io.StringIO(text))
    if not {"question", "expected"} <= set(reader.fieldnames or []):
        raise ValueError("the CSV needs the columns question,expected[,language]")
    return [
        Question(r["question"].strip(), (r.get("language") or "").strip() or None, r["expected"])
        for r in reader
        if r["question"].strip()
    ]


async def evaluate_retrieval(
    session: AsyncSession,
    workspace_id: str,
    questions: list[Question],
    thresholds: tuple[float, ...] = (MIN_SCORE,),
) -> dict[str, Any]:
    keys = dict(
        (
            await session.execute(
                select(KnowledgeArticle.id, KnowledgeArticle.translation_key).where(
                    KnowledgeArticle.workspace_id == workspace_id
                )
            )
        ).all()
    )
    answerable = [q for q in questions if q.expected != NONE]
    outside = [q for q in questions if q.expected == NONE]
    ranked: list[tuple[Question, list[tuple[str, float]]]] = []
    for q in questions:
        hits = await search_knowledge(session, workspace_id, q.text, q.language, 3, min_score=0.0)
        ranked.append((q, [(keys.get(h.article_id, ""), h.score) for h in hits]))
    hit1 = sum(1 for q, r in ranked if q.expected != NONE and r and r[0][0] == q.expected)
    hit3 = sum(1 for q, r in ranked if q.expected != NONE and q.expected in [k for k, _ in r])
    per_language: dict[str, list[int]] = {}
    for q, r in ranked:
        if q.expected != NONE:
            counts = per_language.setdefault(q.language or "?", [0, 0])
            counts[0] += 1
            counts[1] += bool(r and r[0][0] == q.expected)
    curves = []
    for threshold in thresholds:
        kept = sum(
            1
            for q, r in ranked
            if q.expected != NONE and r and r[0][0] == q.expected and r[0][1] >= threshold
        )
        rejected = sum(
            1 for q, r in ranked if q.expected == NONE and (not r or r[0][1] < threshold)
        )
        curves.append(
            {
                "min_score": threshold,
                "hit_at_1": _rate(kept, len(answerable)),
                "oos_rejected": _rate(rejected, len(outside)),
            }
        )
    return {
        "n": len(questions),
        "answerable": len(answerable),
        "out_of_scope": len(outside),
        "hit_at_1": _rate(hit1, len(answerable)),
        "hit_at_3": _rate(hit3, len(answerable)),
        "hit_at_1_per_language": {k: _rate(v[1], v[0]) for k, v in sorted(per_language.items())},
        "at_threshold": curves,
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
