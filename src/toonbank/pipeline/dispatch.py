"""Stage 4 — dispatch: deliver the outbox with retries, rate limits and an attempt log.

Per conversation, only the oldest undelivered reply is eligible, so replies arrive in order
even while one is being retried. A send is claimed (status ``sending`` + lease + attempt row)
and committed *before* the provider is called; if the process dies during the call the lease
expires and the send is retried with the same idempotency key. Providers that honour the key
(``Manifest.idempotent_sends``) deliver exactly once; for the others the residual window is
the duration of one HTTP call (see docs/pipeline.md).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from toonbank.channels.base import Connection, Manifest, SendError, SendResult
from toonbank.channels.content import dump_content, parse_content
from toonbank.contacts.consent import opted_out, set_opt_out
from toonbank.conversations.events import EventSpec, lock_contacts, record_events
from toonbank.kit.clock import now
from toonbank.models import ContactIdentity, DeliveryAttempt, Message
from toonbank.models.base import table_of
from toonbank.models.conversations import is_outbox
from toonbank.ops import metrics
from toonbank.pipeline import outbound_media
from toonbank.pipeline.receipts import (
    MessageState,
    advance,
    select_states,
    states_of,
    take_pending_receipts,
)

log = structlog.get_logger(__name__)


def backoff_seconds(attempt: int, base: float, cap: float, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    delay = random.uniform(0, min(cap, base * 2 ** max(0, attempt - 1)))
    delay = max(delay, base / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


GROUP_COMMIT_LINGER = 0.003
PACING_WINDOW = 2.0
"""Seconds of sends per connection claimed at once: a claim never outlives its lease waiting
for the rate limiter (lease = send timeout + this window + a margin)."""


# Core tables: the hot statements below skip the ORM (identity map, autoflush, bulk planning).
_M = table_of(Message)
_A = table_of(DeliveryAttempt)
_I = table_of(ContactIdentity)
_EARLIER = _M.alias("earlier")
_FIRST_IN_CONVERSATION = ~exists().where(
    and_(
        _EARLIER.c.conversation_id == _M.c.conversation_id,
        is_outbox(_EARLIER.c),
        _EARLIER.c.id < _M.c.id,
    )
)
"""No earlier undelivered reply in the same conversation (replies leave in order)."""


def _sendable(moment: datetime | ColumnElement[Any]) -> list[ColumnElement[bool]]:
    """Due, unleased, and the oldest undelivered reply of its conversation (replies in order)."""
    return [
        is_outbox(_M.c),
        _M.c.next_attempt_at <= moment,
        or_(_M.c.lease_until.is_(None), _M.c.lease_until < moment),
        _FIRST_IN_CONVERSATION,
    ]


_DUE = (
    select(_M.c.id, _M.c.connection_id)
    .where(*_sendable(bindparam("d_now", type_=_M.c.next_attempt_at.type)))
    .order_by(_M.c.id)
    .limit(bindparam("d_limit"))
)
_BUSY = select(_M.c.conversation_id).where(
    _M.c.conversation_id.in_(bindparam("c_ids", expanding=True)), is_outbox(_M.c)
)
_STATES = select_states().where(_M.c.id.in_(bindparam("m_ids", expanding=True)))
_STATES_LOCKED = _STATES.with_for_update()
_HEARD = select(_I.c.contact_id, _I.c.connection_id, _I.c.last_inbound_at).where(
    _I.c.contact_id.in_(bindparam("i_contacts", expanding=True))
)


async def due_messages(ctx: Any, limit: int = 500) -> list[tuple[int, str | None]]:
    """(id, connection id) of outbound messages that may be sent now, oldest first."""
    async with ctx.db.session() as session:
        result = await session.execute(_DUE, {"d_now": now(), "d_limit": limit})
        return [(mid, cid) for mid, cid in result]


@dataclass(slots=True)
class Claimed:
    """A claimed outbound message: what a send needs (plain columns, no ORM instance)."""

    id: int
    workspace_id: str
    conversation_id: str
    contact_id: str
    connection_id: str | None
    sender: str
    content: dict[str, Any]
    recipient: str | None
    attempts: int


_CLAIMED_COLUMNS = [_M.c[name] for name in Claimed.__dataclass_fields__]

_ATTEMPT_UPDATE = (
    update(_A)
    .where(_A.c.id == bindparam("a_id"))
    .values(
        outcome=bindparam("a_outcome"),
        finished_at=bindparam("a_finished"),
        http_status=bindparam("a_http"),
        error_code=bindparam("a_code"),
        error_detail=bindparam("a_detail"),
        retry_after=bindparam("a_retry_after"),
    )
)
_STATE_UPDATE = (
    update(_M)
    .where(_M.c.id == bindparam("m_id"))
    .values(
        status=bindparam("m_status"),
        lease_owner=None,
        lease_until=None,
        provider_message_id=bindparam("m_provider_id"),
        next_attempt_at=bindparam("m_next"),
        sent_at=bindparam("m_sent"),
        delivered_at=bindparam("m_delivered"),
        read_at=bindparam("m_read"),
        failed_at=bindparam("m_failed"),
        error_code=bindparam("m_code"),
        error_detail=bindparam("m_detail"),
    )
)


def _state_params(row: MessageState) -> dict[str, Any]:
    return {
        "m_id": row.id,
        "m_status": row.status,
        "m_provider_id": row.provider_message_id,
        "m_next": row.next_attempt_at,
        "m_sent": row.sent_at,
        "m_delivered": row.delivered_at,
        "m_read": row.read_at,
        "m_failed": row.failed_at,
        "m_code": row.error_code,
        "m_detail": row.error_detail,
    }


@dataclass(slots=True)
class _Attempt:
    id: int
    outcome: str = "started"
    http_status: int | None = None
    error_code: str | None = None
    error_detail: str | None = None
    retry_after: float | None = None


@dataclass(slots=True)
class _Outcome:
    message_id: int
    attempt_id: int
    contact_id: str
    channel: str
    result: SendResult | None = None
    error: SendError | None = None


class Dispatcher:
    """Sends due outbox rows; one instance per worker process.

    A batch is claimed in one transaction, sent concurrently (paced per connection), and the
    outcomes are committed by group commit: whichever send finishes while no commit is running
    starts one for every outcome collected so far, so one slow provider never holds back the
    bookkeeping (and the next reply) of the fast ones.

    ``concurrency`` bounds the HTTP calls in flight. Claims are refilled as soon as sends
    finish (not when their outcome is committed), up to twice that many unsent claims so
    that sends waiting for a connection's rate limiter never hold an HTTP slot.
    """

    def __init__(self, ctx: Any, owner: str, concurrency: int = 16) -> None:
        self.ctx = ctx
        self.owner = owner
        self.concurrency = concurrency
        self._semaphore = asyncio.Semaphore(concurrency)
        self._paused_until: dict[str, float] = {}
        self._inflight: dict[int, str | None] = {}  # message id -> connection id
        self._reserved: dict[str | None, int] = {}  # connection id -> slots held by handoffs
        self._unsent = 0  # claimed, HTTP call not finished yet
        self.saturated = False  # the last run_once stopped because every claim slot was taken
        self._tasks: set[asyncio.Task[int]] = set()
        self.on_slot_free: Callable[[], None] | None = None
        self._done: list[_Outcome] = []
        self._last_heard: dict[tuple[str, str | None], datetime | None] = {}
        self._opted_out: dict[str, set[str]] = {}
        self._commit_lock = asyncio.Lock()

    async def run_once(self) -> int:
        """Claim what is due and start sending it; returns how many sends were started.

        Sends run as tasks: the next claim does not wait for the slowest send of the previous
        one, so the outbox keeps flowing at the providers' pace (continuous dispatch).
        """
        window = 2 * self.concurrency
        free = window - self._unsent
        self.saturated = free < max(1, window // 4)
        if self.saturated:
            return 0  # refill in batches: one due query and one claim per quarter-window
        picked = await self._pick(await due_messages(self.ctx, limit=2 * free), free)
        if not picked:
            return 0
        ids = [message_id for message_id, _ in picked]
        self._inflight.update(picked)
        claimed: list[tuple[Claimed, int]] = []
        try:
            claimed = await self._claim(ids)
        finally:
            taken = {m.id for m, _ in claimed}
            for message_id in ids:
                if message_id not in taken:
                    self._inflight.pop(message_id, None)
        self._unsent += len(claimed)
        for message, attempt_id in claimed:
            task = asyncio.create_task(self._deliver(message, attempt_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    def _adopt(
        self,
        claims: list[tuple[Claimed, int]],
        heard: dict[tuple[str, str | None], datetime | None],
        blocked: dict[str, set[str]],
        reserved: list[str | None],
    ) -> None:
        self._unreserve(reserved)
        if not self._tasks:
            self._last_heard, self._opted_out = {}, {}
        self._last_heard.update(heard)
        self._opted_out.update(blocked)
        for message, attempt_id in claims:
            self._inflight[message.id] = message.connection_id
            task = asyncio.create_task(self._deliver(message, attempt_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._unsent -= len(reserved) - len(claims)  # (equal unless nothing was opened)

    def _sent_one(self) -> None:
        self._unsent -= 1
        if self.on_slot_free is not None:
            self.on_slot_free()

    async def settle(self, timeout: float | None = None) -> None:
        """Wait for the sends in flight (tests, ``drain``, graceful shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def _pick(
        self, due: list[tuple[int, str | None]], free: int
    ) -> list[tuple[int, str | None]]:
        """At most one pacing window of sends per connection (counting those in flight),
        none for paused connections, at most ``free`` in all."""
        budget: dict[str | None, int] = {}
        picked: list[tuple[int, str | None]] = []
        for message_id, connection_id in due:
            if message_id in self._inflight or len(picked) >= free:
                continue
            if connection_id not in budget:
                budget[connection_id] = await self._budget(connection_id) - self._held(
                    connection_id
                )
            if budget[connection_id] > 0:
                budget[connection_id] -= 1
                picked.append((message_id, connection_id))
        return picked

    def _held(self, connection_id: str | None) -> int:
        """Sends claimed (or reserved) on this connection and not finished yet."""
        in_flight = sum(1 for c in self._inflight.values() if c == connection_id)
        return in_flight + self._reserved.get(connection_id, 0)

    async def reserve(self, session: Any, replies: Sequence[Any]) -> Handoff:
        """Inside a transaction that is about to queue ``replies`` (``Outbound`` items): pick
        the ones this dispatcher claims in that same transaction and sends right after commit.

        A reply qualifies if it is the first of the batch in its conversation and no earlier
        reply of the conversation is still queued or sending (replies leave in order), within
        the same claim window and per-connection pacing budget as :meth:`run_once`. The rest
        stay ``queued`` for the regular due query. This saves the due query and the claim
        transaction on the common path; crash safety is the claim's (lease + attempt row).
        """
        handoff = Handoff(self)
        free = 2 * self.concurrency - self._unsent
        first: dict[str, int] = {}
        for index, reply in enumerate(replies):
            first.setdefault(reply.conversation_id, index)
        if free <= 0 or not first:
            return handoff
        busy = set((await session.execute(_BUSY, {"c_ids": list(first)})).scalars())
        budget: dict[str | None, int] = {}
        for conversation_id, index in first.items():
            if conversation_id in busy or len(handoff.slots) >= free:
                continue
            connection_id = replies[index].connection_id
            if connection_id not in budget:
                budget[connection_id] = await self._budget(connection_id) - self._held(
                    connection_id
                )
            if budget[connection_id] > 0:
                budget[connection_id] -= 1
                handoff.slots[index] = connection_id
        for connection_id in handoff.slots.values():
            self._reserved[connection_id] = self._reserved.get(connection_id, 0) + 1
        self._unsent += len(handoff.slots)
        moment = now()
        lease_until = moment + timedelta(
            seconds=self.ctx.settings.dispatch_timeout + PACING_WINDOW + 5.0
        )
        handoff.columns = {
            index: {
                "status": "sending",
                "lease_owner": self.owner,
                "lease_until": lease_until,
                "attempts": 1,
            }
            for index in handoff.slots
        }
        handoff.started_at = moment
        return handoff

    def _unreserve(self, connection_ids: Sequence[str | None]) -> None:
        for connection_id in connection_ids:
            left = self._reserved.get(connection_id, 0) - 1
            if left > 0:
                self._reserved[connection_id] = left
            else:
                self._reserved.pop(connection_id, None)

    async def _budget(self, connection_id: str | None) -> int:
        connection = await self.ctx.connections.get(connection_id) if connection_id else None
        if connection is None:
            return 1_000  # failing fast needs no pacing
        if self._paused_until.get(connection.id, 0.0) > time.monotonic():
            return 0  # the provider asked us to wait (429 with Retry-After)
        adapter = self.ctx.channels.get(connection.type)
        rate = connection.rate_per_second or adapter.manifest.default_rate_per_second
        return max(1, int(rate * PACING_WINDOW)) if rate else self.concurrency

    async def _claim(self, ids: list[int]) -> list[tuple[Claimed, int]]:
        """Mark a batch ``sending`` under our lease and open an attempt row for each."""
        moment = now()
        lease = self.ctx.settings.dispatch_timeout + PACING_WINDOW + 5.0
        async with self.ctx.db.uow() as uow:
            session = uow.session
            messages = sorted(
                (
                    Claimed(*row)
                    for row in await session.execute(
                        update(_M)
                        .where(_M.c.id.in_(ids), *_sendable(moment))
                        .values(
                            status="sending",
                            lease_owner=self.owner,
                            lease_until=moment + timedelta(seconds=lease),
                            attempts=_M.c.attempts + 1,
                        )
                        .returning(*_CLAIMED_COLUMNS)
                    )
                ),
                key=lambda m: m.id,
            )
            if not messages:
                return []
            claimed = [m.id for m in messages]
            # An attempt still "started" belongs to a worker that died mid-send.
            await session.execute(
                update(_A)
                .where(_A.c.message_id.in_(claimed), _A.c.outcome == "started")
                .values(outcome="unknown", error_detail="worker stopped during the send")
            )
            attempts = await session.execute(
                insert(_A).returning(_A.c.id, _A.c.message_id),
                [
                    {
                        "workspace_id": m.workspace_id,
                        "message_id": m.id,
                        "attempt": m.attempts,
                        "worker": self.owner,
                        "started_at": moment,
                        "outcome": "started",
                    }
                    for m in messages
                ],
            )
            attempt_of = {message_id: attempt_id for attempt_id, message_id in attempts}
            if not self._tasks:  # nothing in flight reads them: start afresh (bounded memory)
                self._last_heard, self._opted_out = {}, {}
            self._last_heard.update(await _last_inbound(session, messages))
            contacts = {m.contact_id for m in messages}
            blocked = await opted_out(session, contacts)
            self._opted_out.update({cid: blocked.get(cid, set()) for cid in contacts})
        return [(m, attempt_of[m.id]) for m in messages]

    async def _deliver(self, message: Claimed, attempt_id: int) -> int:
        outcome = _Outcome(message.id, attempt_id, message.contact_id, "none")
        try:
            connection = (
                await self.ctx.connections.get(message.connection_id)
                if message.connection_id
                else None
            )
            if connection is None:
                outcome.error = SendError(
                    "connection is gone", retryable=False, error_code="no_connection"
                )
            else:
                outcome.channel = connection.type
                await self._pace(connection)  # before taking an HTTP slot
                async with self._semaphore:
                    try:
                        outcome.result = await self._send(connection, message)
                    except SendError as exc:
                        outcome.error = exc
                        if exc.retry_after and (
                            exc.http_status == 429 or exc.error_code == "rate_limited"
                        ):
                            self._paused_until[connection.id] = time.monotonic() + exc.retry_after
                            await self.ctx.pacer.penalize(connection.id, exc.retry_after)
        except Exception as exc:
            log.exception("dispatch_crashed", message_id=message.id)
            outcome.error = SendError(
                f"internal error: {type(exc).__name__}", retryable=True, error_code="internal"
            )
        finally:
            self._sent_one()
        self._done.append(outcome)
        try:
            await self._group_commit()
        finally:
            self._inflight.pop(message.id, None)
        return 1 if outcome.error is None else 0

    async def _group_commit(self) -> None:
        if not self._commit_lock.locked():
            # Linger a moment so sends finishing together share one commit.
            await asyncio.sleep(GROUP_COMMIT_LINGER)
        async with self._commit_lock:
            batch, self._done = self._done, []
            if batch:
                await self._finish(batch)

    async def _pace(self, connection: Connection) -> None:
        pause = self._paused_until.get(connection.id, 0.0) - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        adapter = self.ctx.channels.get(connection.type)
        rate = connection.rate_per_second or adapter.manifest.default_rate_per_second
        if rate:  # shared by every worker process when Redis is configured
            await self.ctx.pacer.wait(connection.id, rate)
        pause = self._paused_until.get(connection.id, 0.0) - time.monotonic()
        if pause > 0:  # a 429 arrived while this send waited for its slot
            await asyncio.sleep(pause)
            if rate:
                await self.ctx.pacer.wait(connection.id, rate)

    async def _send(self, connection: Connection, message: Claimed) -> SendResult:
        adapter = self.ctx.channels.get(connection.type)
        try:
            content = parse_content(message.content)
        except ValidationError as exc:
            raise SendError(
                f"stored content is invalid: {exc}", retryable=False, error_code="content"
            ) from None
        if connection.type in self._opted_out.get(message.contact_id, ()):
            raise SendError(
                f"the customer opted out of {connection.type} (STOP); they must opt back in",
                retryable=False,
                error_code="opted_out",
            )
        human_agent = self._window_check(adapter.manifest, message)
        if not message.recipient and not adapter.manifest.internal:
            raise SendError(
                "no recipient known on this connection", retryable=False, error_code="no_recipient"
            )
        try:
            content = await outbound_media.sendable(self.ctx, adapter, connection, content)
            return await adapter.send(
                self.ctx.http,
                connection,
                message.recipient or "",
                content,
                idempotency_key=f"toonbank-{message.id}",
                **({"human_agent": True} if human_agent else {}),
            )
        except httpx.TimeoutException:
            raise SendError("provider timed out", retryable=True, error_code="timeout") from None
        except httpx.TransportError as exc:
            raise SendError(
                f"network error: {type(exc).__name__}", retryable=True, error_code="network"
            ) from None

    def _window_check(self, manifest: Manifest, message: Claimed) -> bool:
        """Raise ``window_closed`` for a free-form reply outside the session window.

        Returns True when the send must carry the human-agent tag: a person's reply after the
        standard window but inside the channel's human-agent window (Messenger: 7 days).
        """
        window = manifest.session_window_seconds
        if window is None or message.content.get("type") == "template":
            return False
        heard = self._last_heard.get((message.contact_id, message.connection_id))
        age = None if heard is None else (now() - heard).total_seconds()
        if age is not None and age <= window:
            return False
        extended = manifest.human_agent_window_seconds
        if message.sender == "agent" and extended and age is not None and age <= extended:
            return True
        if extended and message.sender == "agent":
            detail = f"the customer last wrote over {extended / 86400:g} days ago"
        else:
            detail = f"the customer last wrote over {window / 3600:g} h ago on this channel"
        raise SendError(
            f"{detail}: only an approved template may be sent",
            retryable=False,
            error_code="window_closed",
        )

    async def _finish(self, outcomes: list[_Outcome]) -> None:
        """Record a group of outcomes in one transaction."""
        moment = now()
        async with self.ctx.db.uow() as uow:
            session = uow.session
            await lock_contacts(uow, {o.contact_id for o in outcomes})  # lock order
            query = _STATES if self.ctx.db.is_sqlite else _STATES_LOCKED
            found = await session.execute(query, {"m_ids": [o.message_id for o in outcomes]})
            rows = {m.id: m for m in states_of(found.all())}
            events: list[EventSpec] = []
            sent: list[MessageState] = []
            changed: list[MessageState] = []
            records: list[_Attempt] = []
            opt_outs: list[tuple[str, str]] = []
            for outcome in outcomes:
                row, record = rows[outcome.message_id], _Attempt(outcome.attempt_id)
                records.append(record)
                if row.lease_owner != self.owner or row.status != "sending":
                    # Our lease expired and another worker took over; only log the attempt.
                    record.outcome = "sent" if outcome.error is None else "superseded"
                    continue
                changed.append(row)
                if outcome.error is None:
                    self._sent(row, record, outcome, moment, events)
                    sent.append(row)
                else:
                    self._failed(row, record, outcome, moment, events, opt_outs)
            for contact_id, channel in opt_outs:  # the provider says: this customer opted out
                await set_opt_out(session, contact_id, channel, True)
            events.extend(await take_pending_receipts(uow, sent))
            if changed:  # lease released, new status (one executemany)
                await session.execute(_STATE_UPDATE, [_state_params(row) for row in changed])
            await session.execute(
                _ATTEMPT_UPDATE,
                [
                    {
                        "a_id": r.id,
                        "a_outcome": r.outcome,
                        "a_finished": moment,
                        "a_http": r.http_status,
                        "a_code": r.error_code,
                        "a_detail": r.error_detail,
                        "a_retry_after": r.retry_after,
                    }
                    for r in records
                ],
            )
            await record_events(uow, self.ctx.bus, events)

    def _sent(
        self,
        row: MessageState,
        record: _Attempt,
        outcome: _Outcome,
        moment: datetime,
        events: list[EventSpec],
    ) -> None:
        assert outcome.result is not None
        record.outcome = "sent"
        if outcome.result.provider_message_id:
            row.provider_message_id = outcome.result.provider_message_id
        spec = advance(row, "sent", occurred_at=moment)
        if spec is not None:
            events.append(spec)
        metrics.MESSAGES_OUT.labels(outcome.channel, "sent").inc()
        metrics.DELIVERY_LATENCY.labels(outcome.channel).observe(
            max(0.0, (moment - row.created_at).total_seconds())
        )

    def _failed(
        self,
        row: MessageState,
        record: _Attempt,
        outcome: _Outcome,
        moment: datetime,
        events: list[EventSpec],
        opt_outs: list[tuple[str, str]],
    ) -> None:
        error = outcome.error
        assert error is not None
        settings = self.ctx.settings
        record.http_status = error.http_status
        record.error_code = error.error_code
        record.error_detail = error.detail[:1000]
        record.retry_after = error.retry_after
        if error.retryable and row.attempts < settings.dispatch_max_attempts:
            record.outcome = "retry"
            row.status = "queued"
            delay = backoff_seconds(
                row.attempts,
                settings.retry_base_seconds,
                settings.retry_max_seconds,
                error.retry_after,
            )
            row.next_attempt_at = moment + timedelta(seconds=delay)
            metrics.RETRIES.labels(outcome.channel).inc()
            return
        record.outcome = "failed"
        spec = advance(
            row,
            "failed",
            occurred_at=moment,
            error_code=error.error_code,
            error_detail=error.detail[:1000],
        )
        row.status = "failed"  # also when it had not been "sent" before (advance may skip)
        row.failed_at = moment
        row.error_code = error.error_code
        row.error_detail = error.detail[:1000]
        if spec is not None:
            events.append(spec)
        if error.error_code == "opted_out" and outcome.channel != "none":
            opt_outs.append((row.contact_id, outcome.channel))
        if error.error_code == "window_closed":
            # Tell whoever wrote it (agent in the inbox, the assistant) that a template is needed.
            events.append(
                EventSpec(
                    workspace_id=row.workspace_id,
                    type="template_required",
                    data={"message_id": row.id, "conversation_id": row.conversation_id},
                    conversation_id=row.conversation_id,
                    contact_id=row.contact_id,
                    public=False,
                )
            )
        metrics.FAILURES.labels(outcome.channel).inc()
        metrics.MESSAGES_OUT.labels(outcome.channel, "failed").inc()


class Handoff:
    """Replies claimed inside a process commit for this worker's dispatcher.

    :meth:`Dispatcher.reserve` picks them (before the insert), :meth:`open` writes their
    attempt rows (after it, same transaction), :meth:`adopt` starts the sends once the
    transaction has committed, :meth:`cancel` gives the slots back if it did not.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.slots: dict[int, str | None] = {}  # reply index -> connection id
        self.columns: dict[int, dict[str, Any]] = {}  # reply index -> claim columns
        self.started_at = now()
        self._claims: list[tuple[Claimed, int]] = []
        self._heard: dict[tuple[str, str | None], datetime | None] = {}
        self._blocked: dict[str, set[str]] = {}
        self._settled = False

    async def open(self, session: Any, ids: Sequence[int], replies: Sequence[Any]) -> None:
        """Attempt rows for the claimed replies (``ids``: the inserted message ids)."""
        if not self.slots:
            return
        owner = self.dispatcher.owner
        messages = [
            Claimed(
                id=ids[index],
                workspace_id=replies[index].workspace_id,
                conversation_id=replies[index].conversation_id,
                contact_id=replies[index].contact_id,
                connection_id=replies[index].connection_id,
                sender=replies[index].sender,
                content=dump_content(replies[index].content),
                recipient=replies[index].recipient,
                attempts=1,
            )
            for index in sorted(self.slots)
        ]
        attempts = await session.execute(
            insert(_A).returning(_A.c.id, _A.c.message_id),
            [
                {
                    "workspace_id": m.workspace_id,
                    "message_id": m.id,
                    "attempt": 1,
                    "worker": owner,
                    "started_at": self.started_at,
                    "outcome": "started",
                }
                for m in messages
            ],
        )
        attempt_of = {message_id: attempt_id for attempt_id, message_id in attempts}
        self._claims = [(m, attempt_of[m.id]) for m in messages]
        self._heard = await _last_inbound(session, messages)
        contacts = {m.contact_id for m in messages}
        blocked = await opted_out(session, contacts)
        self._blocked = {cid: blocked.get(cid, set()) for cid in contacts}

    def adopt(self) -> None:
        """After commit: start the sends."""
        if self._settled:
            return
        self._settled = True
        self.dispatcher._adopt(self._claims, self._heard, self._blocked, list(self.slots.values()))

    def cancel(self) -> None:
        """The transaction did not commit (or claimed nothing): give the slots back."""
        if self._settled:
            return
        self._settled = True
        dispatcher = self.dispatcher
        dispatcher._unsent -= len(self.slots)
        dispatcher._unreserve(list(self.slots.values()))


async def _last_inbound(
    session: Any, messages: list[Claimed]
) -> dict[tuple[str, str | None], datetime | None]:
    """When each (contact, connection) last heard from the customer (session windows)."""
    contacts = {m.contact_id for m in messages}
    rows = await session.execute(_HEARD, {"i_contacts": list(contacts)})
    heard: dict[tuple[str, str | None], datetime | None] = {}
    for contact_id, connection_id, last in rows:
        key = (contact_id, connection_id)
        previous = heard.get(key)
        if last is not None and (previous is None or last > previous):
            heard[key] = last
    return heard


async def next_due_in(ctx: Any) -> float | None:
    """Seconds until some reply becomes sendable by the clock (a retry or an expired lease).

    Replies waiting behind an earlier one of their conversation, and sends in flight, are not
    clock events: the dispatcher is woken when those finish. Counting them would make an idle
    dispatcher poll continuously while anything is in flight.
    """
    ready_at = case(
        (
            and_(_M.c.lease_until.is_not(None), _M.c.lease_until > _M.c.next_attempt_at),
            _M.c.lease_until,
        ),
        else_=_M.c.next_attempt_at,
    )
    async with ctx.db.session() as session:
        due = await session.scalar(
            select(func.min(ready_at)).where(
                is_outbox(_M.c),
                _FIRST_IN_CONVERSATION,
            )
        )
    if due is None:
        return None
    if isinstance(due, str):  # SQLite returns the CASE expression's value untyped
        due = datetime.fromisoformat(due)
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return max(0.0, (due - now()).total_seconds())


async def outbox_depth(ctx: Any) -> int:
    from sqlalchemy import func

    async with ctx.db.session() as session:
        value = await session.scalar(
            select(func.count()).select_from(Message).where(is_outbox(Message))
        )
    return int(value or 0)
