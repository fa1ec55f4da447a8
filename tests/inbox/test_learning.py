"""The answer bank's learning rules, the strict templating, and the replay benchmark's curve."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from bench.suggestions import curve, load, replay
from sqlalchemy import select
from tests.knowledge.helpers import ARTICLES, WARRANTY_EN

from toonbank.context import Context
from toonbank.inbox.suggestions import bank, engine
from toonbank.inbox.suggestions.engine import Candidate, Draft
from toonbank.inbox.suggestions.facts import Facts
from toonbank.inbox.suggestions.knowledge import KnowledgeBase, Passage, use_knowledge
from toonbank.inbox.suggestions.templating import render, templatize, unknown_variables
from toonbank.kit.clock import now
from toonbank.knowledge import upsert_articles
from toonbank.models import AnswerEntry
from toonbank.workspaces.service import create_workspace


def test_render_reports_unknown_and_missing_and_never_evaluates() -> None:
    values = {"contact.first_name": "Ann", "order.number": "TB-1"}
    done = render("Hi {{ contact.first_name }}, order {{order.number}}.", values)
    assert (done.text, done.complete) == ("Hi Ann, order TB-1.", True)
    odd = render("{{order.tracking_number}} {{ __import__('os') }} {{x.y}} {{7*7}}", values)
    assert odd.text == "{{order.tracking_number}} {{ __import__('os') }} {{x.y}} {{7*7}}"
    assert odd.missing == ["order.tracking_number"] and odd.unknown == ["x.y"]
    assert unknown_variables("{{agent.name}} {{contact.password}}") == ["contact.password"]


def test_templatize_turns_this_customers_facts_into_variables() -> None:
    values = {
        "contact.first_name": "Ann",
        "contact.name": "Ann Smith",
        "order.number": "TB-12",
        "order.tracking_number": "TB-123",
    }
    text = "Dear Ann Smith (Ann): TB-12 ships as TB-123; Annie TB-120."
    assert templatize(text, values) == (
        "Dear {{contact.name}} ({{contact.first_name}}): {{order.number}} ships as "
        "{{order.tracking_number}}; Annie TB-120."
    )


async def _workspace(ctx: Context, name: str = "acme") -> str:
    async with ctx.db.uow() as uow:
        workspace, _ = await create_workspace(uow.session, ctx.secret_box, ctx.channels, name)
    return workspace.id


async def _learn(
    ctx: Context, workspace_id: str, question: str, answer: str, action: str, origin: str | None
) -> AnswerEntry:
    vector = (await engine.embed([question]))[0]
    async with ctx.db.uow() as uow:
        entry = await uow.session.get(AnswerEntry, origin) if origin else None
        learned = await bank.learn(
            uow.session,
            workspace_id=workspace_id,
            question=question,
            vector=vector,
            encoder=engine.encoder().name,
            language="en",
            answer=answer,
            action=action,
            agent_id=None,
            origin=entry,
        )
    return learned


async def test_edits_replace_the_answer_for_its_whole_cluster(ctx: Context) -> None:
    ws = await _workspace(ctx)
    other = await _workspace(ctx, "rival")
    old, new = "Returns within 14 days.", "Returns within 30 days, label included."
    first = await _learn(ctx, ws, "How do I return something?", old, "written", None)
    second = await _learn(ctx, ws, "Can I send these shoes back?", old, "written", None)
    theirs = await _learn(ctx, other, "How do I return something?", old, "written", None)
    assert len({first.id, second.id, theirs.id}) == 3
    # The same question again with the same answer: no new entry.
    again = await _learn(ctx, ws, "How do I return something?", old, "written", None)
    assert again.id == first.id
    await _learn(ctx, ws, "What is your return policy?", new, "edited", second.id)
    async with ctx.db.session() as session:
        rows = (await session.execute(select(AnswerEntry).order_by(AnswerEntry.id))).scalars()
        answers = {(e.workspace_id, e.question): (e.answer, e.learned_from) for e in rows}
    assert answers == {
        (ws, "How do I return something?"): (new, "edited"),
        (ws, "Can I send these shoes back?"): (new, "edited"),
        (other, "How do I return something?"): (old, "written"),  # another workspace: untouched
    }


async def test_rejections_demote_and_the_demotion_decays(ctx: Context) -> None:
    ws = await _workspace(ctx)
    entry = await _learn(ctx, ws, "Do you ship to Belgium?", "Yes.", "written", None)
    vector = (await engine.embed(["Do you deliver to Belgium?"]))[0]
    async with ctx.db.uow() as uow:
        [fresh] = await bank.nearest(
            uow.session,
            ws,
            question="Do you deliver to Belgium?",
            vector=vector,
            encoder=engine.encoder().name,
            language="en",
        )
        row = await uow.session.get(AnswerEntry, entry.id)
        assert row is not None
        for _ in range(3):
            bank.demote(row)
    async with ctx.db.session() as session:
        [demoted] = await bank.nearest(
            session,
            ws,
            question="Do you deliver to Belgium?",
            vector=vector,
            encoder=engine.encoder().name,
            language="en",
        )
        assert demoted.entry.rejected == 3
        assert demoted.score == pytest.approx(fresh.score - 3 * bank.REJECT_STEP, abs=1e-3)
        later = now() + timedelta(days=bank.HALF_LIFE_DAYS)
        assert bank.decayed_penalty(demoted.entry, later) == pytest.approx(
            1.5 * bank.REJECT_STEP, abs=1e-6
        )
        # Another language's bank is not searched.
        assert (
            await bank.nearest(
                session,
                ws,
                question="Do you deliver to Belgium?",
                vector=vector,
                encoder=engine.encoder().name,
                language="nl",
            )
            == []
        )


async def test_replay_acceptance_rises_as_the_bank_learns(database_url: str) -> None:
    """A slice of the recorded replay: 3 intents x 3 languages x 4 phrasings, in order."""
    rows = [
        r
        for r in load()
        if r["intent"] in ("order_status", "opening_hours", "payment_methods")
        and r["language"] in ("en", "de", "es")
    ]
    assert len(rows) == 36
    steps = await replay(rows, database_url)
    points = curve(steps, window=12)
    assert len(points) == 3
    assert points[0] <= 0.35  # mostly first sightings: nothing learned yet
    assert points[-1] >= points[0] + 0.4, points
    assert steps[-1].bank_size < len(rows)  # repeats strengthen entries, not only add


class _Articles:
    """A knowledge source with one article (what ``toonbank.knowledge`` will provide)."""

    async def search(
        self, session: Any, workspace_id: str, query: str, language: str | None, limit: int = 3
    ) -> list[Passage]:
        if "warranty" not in query.lower():
            return []
        return [Passage("kb-1", "Warranty", "All shoes have a 2-year warranty.", 0.8)]


class _Drafts:
    name = "echo-llm"

    async def draft(
        self, question: str, language: str | None, grounding: Sequence[Candidate]
    ) -> Draft | None:
        if not grounding:
            return None
        return Draft(f"Draft from {len(grounding)} sources: {grounding[0].text}", [])


async def test_knowledge_and_generator_ports_feed_suggestions(ctx: Context) -> None:
    ws = await _workspace(ctx)
    question = "Is there a warranty on these shoes?"
    vector = (await engine.embed([question]))[0]
    use_knowledge(_Articles())
    engine.use_generator(_Drafts())
    try:
        async with ctx.db.session() as session:
            found = await engine.suggest(
                session, ws, question=question, vector=vector, language="en", facts=Facts()
            )
    finally:
        use_knowledge(KnowledgeBase())
        engine.use_generator(None)
    assert [(c.text, c.sources) for c in found] == [
        (
            "All shoes have a 2-year warranty.",
            [{"type": "knowledge", "id": "kb-1", "title": "Warranty"}],
        ),
        (
            "Draft from 1 sources: All shoes have a 2-year warranty.",
            [{"type": "generated", "provider": "echo-llm"}],
        ),
    ]
    async with ctx.db.session() as session:  # ports back to the defaults: nothing
        assert (
            await engine.suggest(
                session, ws, question=question, vector=vector, language="en", facts=Facts()
            )
            == []
        )


async def test_suggestions_quote_the_workspace_knowledge_base_by_default(ctx: Context) -> None:
    ws = await _workspace(ctx)
    other = await _workspace(ctx, "rival")
    async with ctx.db.uow() as uow:
        await upsert_articles(uow.session, other, [WARRANTY_EN])
    question = "Is there a warranty when the zip breaks?"
    vector = (await engine.embed([question]))[0]
    async with ctx.db.session() as session:
        before = await engine.suggest(
            session, ws, question=question, vector=vector, language="en", facts=Facts()
        )
    assert not [c for c in before if any(s["type"] == "knowledge" for s in c.sources)]
    async with ctx.db.uow() as uow:
        await upsert_articles(uow.session, ws, ARTICLES)
    async with ctx.db.session() as session:
        found = await engine.suggest(
            session, ws, question=question, vector=vector, language="en", facts=Facts()
        )
    quoted = [c for c in found if any(s["type"] == "knowledge" for s in c.sources)]
    assert quoted, found
    assert "two-year warranty" in quoted[0].text
    assert quoted[0].sources[0]["title"] == "Warranty"
