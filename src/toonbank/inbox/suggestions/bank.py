"""The learned answer bank of a workspace: question embedding -> the agent's final answer.

Learning rules (see docs/inbox.md, "Reply suggestions"):

* an accepted suggestion from an entry strengthens it (its demotion is halved);
* an edited suggestion replaces the answer of its entry *and of every entry that gave the same
  answer in that language* (the question cluster that answer served): the edit wins;
* a reply the agent wrote (or a suggestion from another source that was sent) becomes a new
  entry, unless a near-identical question is already in the bank, whose answer it replaces;
* a rejection demotes the entry by :data:`REJECT_STEP`; the demotion decays with a half-life
  of :data:`HALF_LIFE_DAYS`, so an answer that was wrong for a while can come back.

Functions here never commit; the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.kit.clock import now
from toonbank.models import AnswerEntry

Vector = npt.NDArray[np.float32]
HALF_LIFE_DAYS: Final = 14.0
REJECT_STEP: Final = 0.03
MAX_PENALTY: Final = 0.3
SAME_QUESTION: Final = 0.95
"""Cosine similarity above which two questions are the same question (one entry)."""
MAX_BANK: Final = 5000
"""Most recently updated entries searched per workspace (older ones wait for a removal)."""


def to_blob(vector: Vector) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes) -> Vector:
    return np.frombuffer(blob, dtype=np.float32)


def decayed_penalty(entry: AnswerEntry, at: datetime | None = None) -> float:
    if not entry.penalty or entry.demoted_at is None:
        return float(entry.penalty or 0.0)
    days = max(0.0, ((at or now()) - entry.demoted_at).total_seconds() / 86400)
    return float(entry.penalty) * 0.5 ** (days / HALF_LIFE_DAYS)


@dataclass(frozen=True, slots=True)
class BankMatch:
    entry: AnswerEntry
    similarity: float
    score: float
    """``similarity`` minus the entry's decayed demotion."""


async def _entries(
    session: AsyncSession, workspace_id: str, encoder: str, language: str | None
) -> list[AnswerEntry]:
    query = select(AnswerEntry).where(
        AnswerEntry.workspace_id == workspace_id, AnswerEntry.encoder == encoder
    )
    if language:
        query = query.where(or_(AnswerEntry.language == language, AnswerEntry.language.is_(None)))
    rows = await session.execute(query.order_by(AnswerEntry.updated_at.desc()).limit(MAX_BANK))
    return list(rows.scalars())


async def nearest(
    session: AsyncSession,
    workspace_id: str,
    *,
    question: str,
    vector: Vector,
    encoder: str,
    language: str | None,
    limit: int = 10,
) -> list[BankMatch]:
    """The bank entries whose questions are closest to ``question``, best score first.

    (Blending in word overlap was tried and lowered the replay benchmark's acceptance.)
    """
    entries = await _entries(session, workspace_id, encoder, language)
    if not entries:
        return []
    matrix = np.vstack([from_blob(e.embedding) for e in entries])
    cosines = matrix @ np.asarray(vector, dtype=np.float32)
    top = np.argsort(-cosines)[: max(limit * 3, 30)]
    at = now()
    matches = []
    for i in top:
        entry = entries[int(i)]
        similarity = float(cosines[i])
        matches.append(BankMatch(entry, similarity, similarity - decayed_penalty(entry, at)))
    matches.sort(key=lambda m: -m.score)
    return matches[:limit]


async def learn(
    session: AsyncSession,
    *,
    workspace_id: str,
    question: str,
    vector: Vector,
    encoder: str,
    language: str | None,
    answer: str,
    action: str,
    agent_id: str | None,
    origin: AnswerEntry | None = None,
) -> AnswerEntry:
    """Record that ``answer`` (already a template) was the final reply to ``question``."""
    at = now()
    if origin is not None and origin.workspace_id == workspace_id:
        if action == "accepted" and origin.answer == answer:
            origin.accepted += 1
            origin.penalty = decayed_penalty(origin, at) / 2
            origin.demoted_at = at if origin.penalty else None
            origin.updated_at = at
            return origin
        await _replace_cluster(session, origin, answer, agent_id, at)
        return origin
    matches = await nearest(
        session,
        workspace_id,
        question=question,
        vector=vector,
        encoder=encoder,
        language=language,
        limit=1,
    )
    if matches and matches[0].similarity >= SAME_QUESTION:
        same = matches[0].entry
        if same.answer == answer:
            same.accepted += 1
            same.updated_at = at
        else:
            await _replace_cluster(session, same, answer, agent_id, at)
        return same
    entry = AnswerEntry(
        workspace_id=workspace_id,
        question=question,
        language=language,
        answer=answer,
        encoder=encoder,
        embedding=to_blob(vector),
        accepted=1 if action == "accepted" else 0,
        edited=1 if action == "edited" else 0,
        learned_from=action,
        agent_id=agent_id,
        created_at=at,
        updated_at=at,
    )
    session.add(entry)
    await session.flush()
    return entry


async def _replace_cluster(
    session: AsyncSession, entry: AnswerEntry, answer: str, agent_id: str | None, at: datetime
) -> None:
    """The edited answer replaces the original wherever that original answered (same language)."""
    old = entry.answer
    query = update(AnswerEntry).where(
        AnswerEntry.workspace_id == entry.workspace_id, AnswerEntry.answer == old
    )
    query = query.where(
        AnswerEntry.language == entry.language
        if entry.language is not None
        else AnswerEntry.language.is_(None)
    )
    await session.execute(
        query.values(
            answer=answer,
            edited=AnswerEntry.edited + 1,
            penalty=0.0,
            demoted_at=None,
            learned_from="edited",
            agent_id=agent_id,
            updated_at=at,
        ).execution_options(synchronize_session=False)
    )
    await session.refresh(entry)


def demote(entry: AnswerEntry) -> None:
    at = now()
    entry.rejected += 1
    entry.penalty = min(MAX_PENALTY, decayed_penalty(entry, at) + REJECT_STEP)
    entry.demoted_at = at


async def list_entries(
    session: AsyncSession, workspace_id: str, *, limit: int, offset: int = 0
) -> Sequence[AnswerEntry]:
    """What the workspace learned, most recently changed first (for review)."""
    rows = await session.execute(
        select(AnswerEntry)
        .where(AnswerEntry.workspace_id == workspace_id)
        .order_by(AnswerEntry.updated_at.desc(), AnswerEntry.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars())
