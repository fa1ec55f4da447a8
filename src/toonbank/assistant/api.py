"""Assistant REST API under ``/api/v1/assistant``: understand, business intents, evaluation.

Authenticated by workspace API keys: ``assistant:read`` to understand and evaluate,
``assistant:write`` to change the workspace's intents. Understanding uses the built-in intents
plus the key's workspace's own; nothing of another workspace is ever visible. Model work runs
in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from toonbank.api.deps import get_ctx, require_scope
from toonbank.api.errors import ApiError
from toonbank.assistant.engine import UnderstandingEngine
from toonbank.assistant.evaluation import evaluate
from toonbank.assistant.examples import MAX_TEXT, ExampleError, read_examples
from toonbank.assistant.nlu.intents import Example
from toonbank.assistant.service import (
    delete_intent,
    engine_for_workspace,
    import_examples,
    intent_counts,
)
from toonbank.assistant.taxonomy import BUILTIN_INTENTS
from toonbank.auth.service import KeyPrincipal
from toonbank.context import Context

router = APIRouter(prefix="/api/v1/assistant", tags=["assistant"])

READ = require_scope("assistant:read")
WRITE = require_scope("assistant:write")
MAX_BATCH = 100
MAX_EVAL_ROWS = 2000
MAX_CSV = 2_000_000


class UnderstandBody(BaseModel):
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    texts: list[str] | None = Field(default=None, max_length=MAX_BATCH)
    previous_language: str | None = Field(default=None, max_length=8)
    payload: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def one_of(self) -> UnderstandBody:
        if (self.text is None) == (self.texts is None):
            raise ValueError("give either text or texts")
        if self.texts is not None and any(len(t) > MAX_TEXT for t in self.texts):
            raise ValueError(f"each text has at most {MAX_TEXT} characters")
        return self


class ExampleBody(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    intent: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    language: str | None = Field(default=None, max_length=8)


class ImportBody(BaseModel):
    csv: str | None = Field(default=None, max_length=MAX_CSV)
    examples: list[ExampleBody] | None = Field(default=None, max_length=20_000)


class EvalBody(BaseModel):
    test: str = Field(max_length=MAX_CSV, description="CSV: text,intent[,language]")
    train: str | None = Field(default=None, max_length=MAX_CSV)


@router.post("/understand")
async def understand(
    body: UnderstandBody,
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    async with ctx.db.session() as session:
        engine = await engine_for_workspace(session, principal.workspace_id)
    if body.text is not None:
        text = body.text
        result = await to_thread.run_sync(
            lambda: engine.understand(text, body.previous_language, body.payload)
        )
        return result.to_json()
    texts = list(body.texts or [])
    results = await to_thread.run_sync(
        lambda: engine.understand_many(texts, [body.previous_language] * len(texts))
    )
    return {"results": [r.to_json() for r in results]}


@router.get("/intents")
async def list_intents(
    principal: KeyPrincipal = Depends(READ), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session:
        counts = await intent_counts(session, principal.workspace_id)
    return {"builtin": BUILTIN_INTENTS, "business": counts}


@router.post("/intents/import")
async def import_intents(
    body: ImportBody,
    principal: KeyPrincipal = Depends(WRITE),
    ctx: Context = Depends(get_ctx),
) -> Any:
    if (body.csv is None) == (body.examples is None):
        raise ApiError(422, "invalid_request", "give either csv or examples")
    if body.csv is not None:
        try:
            examples = read_examples(body.csv)
        except ExampleError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None
    else:
        examples = [Example(e.text.strip(), e.intent, e.language) for e in body.examples or []]
    try:
        async with ctx.db.session() as session, session.begin():
            result = await import_examples(session, principal.workspace_id, examples)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return result.to_json()


@router.delete("/intents/{intent}")
async def remove_intent(
    intent: str, principal: KeyPrincipal = Depends(WRITE), ctx: Context = Depends(get_ctx)
) -> Any:
    async with ctx.db.session() as session, session.begin():
        removed = await delete_intent(session, principal.workspace_id, intent)
    if not removed:
        raise ApiError(404, "not_found", "this workspace has no such intent")
    return {"intent": intent, "examples_removed": removed}


@router.post("/eval")
async def evaluate_endpoint(
    body: EvalBody,
    principal: KeyPrincipal = Depends(READ),
    ctx: Context = Depends(get_ctx),
) -> Any:
    """Measure on ``test``; with ``train`` the model knows only train's intents. Nothing is
    written. Without ``train`` the workspace's own intents are included."""
    try:
        test = read_examples(body.test)
        train = read_examples(body.train) if body.train is not None else None
    except ExampleError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    if not test or len(test) > MAX_EVAL_ROWS or (train is not None and len(train) > MAX_EVAL_ROWS):
        raise ApiError(422, "invalid_request", f"give 1 to {MAX_EVAL_ROWS} rows")
    if train is not None:
        if not train:
            raise ApiError(422, "invalid_request", "the training CSV has no rows")
        engine = UnderstandingEngine(train)
    else:
        async with ctx.db.session() as session:
            engine = await engine_for_workspace(session, principal.workspace_id)
    return await to_thread.run_sync(lambda: evaluate(engine, test))
