"""Where a Toonbank turn spends its time, read back from the pipeline's own timestamps.

After a turn run, the database still holds every stage's timestamp for each measured message:
the ledger row (``inbound_events.received_at`` / ``processed_at``), the reply in the outbox
(``messages.created_at``), and the delivery attempt (``delivery_attempts.started_at``). Together
with the load generator's scheduled send time and the provider simulator's receive time they
split the end-to-end latency into stages. Each timestamp is taken inside its stage's
transaction, so a stage also carries the commit of the one before it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bench.loadgen import Messages, OpenLoopResult
from bench.stats import percentile

STAGES = (
    ("webhook acknowledged", "scheduled send → HTTP 200 (verify, parse, ledger insert, commit)"),
    ("ledger → normalized", "ledger row stored → normalize batch (contact, conversation, message)"),
    ("normalized → reply queued", "normalize → process stage: bot turn, outbox row committed"),
    ("queued → send started", "outbox row → dispatcher claims it (attempt row)"),
    ("send started → provider", "claim committed, HTTP send until the receiver has it"),
)


@dataclass
class StageStats:
    """Latency percentiles (ms) of one stage over the measured messages."""

    name: str
    description: str
    p50_ms: float
    p99_ms: float


@dataclass
class _Row:
    ledger_received: datetime
    ledger_processed: datetime | None
    message_id: int
    conversation_id: str


async def _stage_times(
    database_url: str, prefix: str
) -> dict[str, tuple[_Row, datetime | None, datetime | None]]:
    """provider message id → (ledger/message row, reply queued at, send started at)."""
    from toonbank.db import create_database
    from toonbank.models import DeliveryAttempt, InboundEvent, Message

    db = create_database(database_url)
    try:
        async with db.session() as session:
            ledger = {
                key[2:]: (received, processed)
                for key, received, processed in await session.execute(
                    select(
                        InboundEvent.dedupe_key,
                        InboundEvent.received_at,
                        InboundEvent.processed_at,
                    ).where(InboundEvent.dedupe_key.like(f"m:{prefix}-m%"))
                )
            }
            rows: dict[str, _Row] = {}
            for pid, mid, cid in await session.execute(
                select(Message.provider_message_id, Message.id, Message.conversation_id).where(
                    Message.direction == "in", Message.provider_message_id.like(f"{prefix}-m%")
                )
            ):
                if pid in ledger:
                    rows[pid] = _Row(ledger[pid][0], ledger[pid][1], mid, cid)
            first = min((r.message_id for r in rows.values()), default=0)
            replies: dict[str, tuple[int, datetime]] = {}
            for oid, cid, created in await session.execute(
                select(Message.id, Message.conversation_id, Message.created_at)
                .where(Message.direction == "out", Message.id > first)
                .order_by(Message.id)
            ):
                replies.setdefault(cid, (oid, created))
            started = {
                mid: at
                for mid, at in await session.execute(
                    select(DeliveryAttempt.message_id, DeliveryAttempt.started_at).where(
                        DeliveryAttempt.outcome == "sent", DeliveryAttempt.message_id > first
                    )
                )
            }
    finally:
        await db.dispose()
    out: dict[str, tuple[_Row, datetime | None, datetime | None]] = {}
    for pid, row in rows.items():
        reply = replies.get(row.conversation_id)
        if reply is not None and reply[0] > row.message_id:
            out[pid] = (row, reply[1], started.get(reply[0]))
        else:
            out[pid] = (row, None, None)
    return out


def stage_breakdown(
    database_url: str,
    messages: Messages,
    result: OpenLoopResult,
    replies: dict[str, float],
    measured: range,
) -> list[StageStats]:
    """Per-stage p50/p99 over the measured messages that completed the stage."""
    times = asyncio.run(_stage_times(database_url, messages.prefix))
    samples: list[list[float]] = [[] for _ in STAGES]

    def add(stage: int, start: float | None, end: float | None) -> None:
        if start is not None and end is not None:
            samples[stage].append((end - start) * 1000)

    def ts(moment: datetime | None) -> float | None:
        return None if moment is None else moment.timestamp()

    for i in measured:
        scheduled = result.scheduled(i)
        add(0, scheduled, result.done[i] if result.status[i] == 200 else None)
        entry = times.get(f"{messages.prefix}-m{i}")
        if entry is None:
            continue
        row, queued, started = entry
        add(1, ts(row.ledger_received), ts(row.ledger_processed))
        add(2, ts(row.ledger_processed), ts(queued))
        add(3, ts(queued), ts(started))
        add(4, ts(started), replies.get(messages.sender(i)))
    return [
        StageStats(name, description, percentile(values, 50), percentile(values, 99))
        for (name, description), values in zip(STAGES, samples, strict=True)
    ]
