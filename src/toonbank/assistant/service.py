"""Business intents per workspace: import examples, list them, build the workspace's engine.

A workspace's engine knows the built-in intents plus the workspace's own examples (a business
example with a built-in label adds to that intent). Engines are cached per process, keyed by
a digest of their examples, so an import is picked up by the next request.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.engine import UnderstandingEngine, shared_engine
from toonbank.assistant.nlu.intents import Example, examples_digest
from toonbank.assistant.nlu.text import normalise
from toonbank.models import AssistantIntentExample

MAX_EXAMPLES_PER_WORKSPACE = 20_000
ENGINES_KEPT = 8


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    unchanged: int
    intents: dict[str, int]

    def to_json(self) -> dict[str, object]:
        return {"added": self.added, "unchanged": self.unchanged, "intents": self.intents}


def _key(text: str) -> str:
    return hashlib.sha1(normalise(text).encode(), usedforsecurity=False).hexdigest()


async def intent_counts(session: AsyncSession, workspace_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(AssistantIntentExample.intent, func.count())
        .where(AssistantIntentExample.workspace_id == workspace_id)
        .group_by(AssistantIntentExample.intent)
        .order_by(AssistantIntentExample.intent)
    )
    return {intent: int(n) for intent, n in rows.all()}


async def workspace_examples(session: AsyncSession, workspace_id: str) -> list[Example]:
    rows = await session.execute(
        select(
            AssistantIntentExample.text,
            AssistantIntentExample.intent,
            AssistantIntentExample.language,
        )
        .where(AssistantIntentExample.workspace_id == workspace_id)
        .order_by(AssistantIntentExample.intent, AssistantIntentExample.id)
    )
    return [Example(text, intent, language) for text, intent, language in rows.all()]


async def import_examples(
    session: AsyncSession, workspace_id: str, examples: Sequence[Example]
) -> ImportResult:
    """Add ``examples`` to the workspace; ones it already has are left as they are."""
    existing = {
        (intent, key)
        for intent, key in (
            await session.execute(
                select(AssistantIntentExample.intent, AssistantIntentExample.text_key).where(
                    AssistantIntentExample.workspace_id == workspace_id
                )
            )
        ).all()
    }
    if len(existing) + len(examples) > MAX_EXAMPLES_PER_WORKSPACE:
        raise ValueError(f"a workspace holds at most {MAX_EXAMPLES_PER_WORKSPACE} examples")
    added = 0
    for example in examples:
        key = _key(example.text)
        if not key or (example.intent, key) in existing:
            continue
        existing.add((example.intent, key))
        session.add(
            AssistantIntentExample(
                workspace_id=workspace_id,
                intent=example.intent,
                text=example.text,
                text_key=key,
                language=example.language,
            )
        )
        added += 1
    await session.flush()
    counts = await intent_counts(session, workspace_id)
    return ImportResult(added, len(examples) - added, counts)


async def delete_intent(session: AsyncSession, workspace_id: str, intent: str) -> int:
    rows = (
        await session.execute(
            select(AssistantIntentExample).where(
                AssistantIntentExample.workspace_id == workspace_id,
                AssistantIntentExample.intent == intent,
            )
        )
    ).scalars()
    n = 0
    for row in rows:
        await session.delete(row)
        n += 1
    return n


_engines: OrderedDict[str, UnderstandingEngine] = OrderedDict()
_engines_lock = threading.Lock()


def engine_for_examples(business: Sequence[Example]) -> UnderstandingEngine:
    """The engine for built-in intents plus ``business`` examples (cached per process)."""
    if not business:
        return shared_engine()
    base = shared_engine()
    digest = examples_digest(business, base.encoder.name)
    with _engines_lock:
        engine = _engines.get(digest)
        if engine is not None:
            _engines.move_to_end(digest)
            return engine
    engine = UnderstandingEngine(business, builtin_rules=True, extends=base)
    with _engines_lock:
        _engines[digest] = engine
        while len(_engines) > ENGINES_KEPT:
            _engines.popitem(last=False)
    return engine


async def engine_for_workspace(session: AsyncSession, workspace_id: str) -> UnderstandingEngine:
    return engine_for_examples(await workspace_examples(session, workspace_id))
