"""Run conversation tests through the real pipeline (ingest → process → outbox), in process.

Each conversation gets its own customer (unless it names a shared ``user``) on the demo
workspace's web-chat or terminal connection; every turn is ingested like a channel message,
the worker drains, and the assertions look at the replies, the persisted dialogue state, the
conversation's status, the customer's cart, orders and preferences.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from toonbank.assistant.convtests.spec import Conversation, Expect, Step
from toonbank.channels.base import Connection, InboundMessage
from toonbank.channels.connections import find_connection, to_connection
from toonbank.channels.content import (
    Content,
    ProductCard,
    ProductCarousel,
    Reply,
    Text,
    parse_content,
)
from toonbank.channels.render import format_plain
from toonbank.commerce import carts
from toonbank.commerce import orders as order_rules
from toonbank.commerce.search import SearchQuery
from toonbank.context import Context
from toonbank.conversations.service import change_status
from toonbank.conversations.states import BOT
from toonbank.kit.clock import now
from toonbank.models import Cart, Contact, ContactIdentity, Message, Order, Workspace, new_id
from toonbank.models import Conversation as ConversationRow
from toonbank.pipeline.ingest import store_events
from toonbank.pipeline.worker import Worker


@dataclass
class TurnOutcome:
    index: int
    action: str
    replies: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    name: str
    source: str
    turns: list[TurnOutcome] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and not any(t.failures for t in self.turns)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "failures": [
                {"turn": t.index, "action": t.action, "message": f, "replies": t.replies}
                for t in self.turns
                for f in t.failures
            ],
        }


class Runner:
    def __init__(self, ctx: Context, workspace_id: str) -> None:
        self.ctx = ctx
        self.workspace_id = workspace_id
        self.worker = Worker(ctx)
        self._connections: dict[str, Connection] = {}

    async def connection(self, channel: str) -> Connection:
        if channel not in self._connections:
            async with self.ctx.db.session() as session:
                row = await find_connection(session, self.workspace_id, channel)
            if row is None:
                raise LookupError(f"the workspace has no {channel} connection")
            self._connections[channel] = to_connection(row, self.ctx.secret_box)
        return self._connections[channel]

    async def run(self, conversation: Conversation) -> Outcome:
        outcome = Outcome(conversation.name, conversation.source)
        began = time.perf_counter()
        saved = await self._apply_settings(conversation.settings)
        try:
            driver = _Driver(self, conversation, await self.connection(conversation.channel))
            for index, step in enumerate(conversation.turns, 1):
                outcome.turns.append(await driver.step(index, step))
        except Exception as exc:  # a broken script or an assistant crash: report, go on
            outcome.error = f"{type(exc).__name__}: {exc}"
        finally:
            await self._restore_settings(saved)
            outcome.seconds = time.perf_counter() - began
        return outcome

    async def _apply_settings(self, values: dict[str, Any]) -> dict[str, Any] | None:
        if not values:
            return None
        async with self.ctx.db.uow() as uow:
            workspace = await uow.session.get(Workspace, self.workspace_id)
            assert workspace is not None
            saved = dict(workspace.settings or {})
            workspace.settings = {**saved, "assistant": {**saved.get("assistant", {}), **values}}
        return saved

    async def _restore_settings(self, saved: dict[str, Any] | None) -> None:
        if saved is None:
            return
        async with self.ctx.db.uow() as uow:
            workspace = await uow.session.get(Workspace, self.workspace_id)
            assert workspace is not None
            workspace.settings = saved


class _Driver:
    """One customer talking through one connection."""

    def __init__(self, runner: Runner, conversation: Conversation, connection: Connection) -> None:
        self.runner = runner
        self.ctx = runner.ctx
        self.conversation = conversation
        self.connection = connection
        self.user = conversation.user or f"convtest-{new_id()[:16]}"
        self.last_seen: int | None = None

    async def step(self, index: int, step: Step) -> TurnOutcome:
        if self.last_seen is None:  # a returning customer: only replies from now on count
            self.last_seen = await self._latest_reply_id()
        if step.purchase is not None:
            await self._purchase(step)
            action = f"purchase {step.purchase.search!r}"
        elif step.order is not None:
            await self._change_order(step)
            action = f"order → {step.order.status}"
        elif step.agent_returns:
            await self._agent_returns()
            action = "agent returns the conversation"
        else:
            content = await self._content(step)
            action = f"say {step.say!r}" if step.say is not None else f"tap {step.tap!r}"
            await self._send(content)
        replies = await self._replies()
        outcome = TurnOutcome(index, action, [format_plain(r) for r in replies])
        outcome.failures = await self._check(step.expect, replies, outcome.replies)
        return outcome

    async def _content(self, step: Step) -> Content:
        if step.say is not None:
            return Text(text=step.say)
        offered = (await self._state()).get("offered") or []
        chosen: dict[str, Any] | None = None
        if isinstance(step.tap, int):
            chosen = offered[step.tap - 1] if 0 < step.tap <= len(offered) else None
        else:
            wanted = str(step.tap).casefold()
            chosen = next((o for o in offered if str(o["title"]).casefold() == wanted), None)
        if chosen is None:
            titles = [o["title"] for o in offered]
            raise AssertionError(f"cannot tap {step.tap!r}: offered {titles}")
        return Reply(payload=chosen["payload"], title=chosen["title"])

    async def _send(self, content: Content) -> None:
        message = InboundMessage(
            provider_message_id=new_id(), sender_id=self.user, content=content, timestamp=now()
        )
        await store_events(self.ctx, self.connection, [message])
        await self.runner.worker.drain(timeout=120)

    async def _contact_id(self) -> str | None:
        async with self.ctx.db.session() as session:
            return await session.scalar(
                select(ContactIdentity.contact_id).where(
                    ContactIdentity.workspace_id == self.runner.workspace_id,
                    ContactIdentity.channel_type == self.connection.type,
                    ContactIdentity.external_id == self.user,
                )
            )

    async def _conversation(self) -> ConversationRow | None:
        contact_id = await self._contact_id()
        if contact_id is None:
            return None
        async with self.ctx.db.session() as session:
            return await session.scalar(
                select(ConversationRow)
                .where(
                    ConversationRow.workspace_id == self.runner.workspace_id,
                    ConversationRow.contact_id == contact_id,
                )
                .order_by(ConversationRow.created_at.desc())
                .limit(1)
            )

    async def _state(self) -> dict[str, Any]:
        conversation = await self._conversation()
        return dict(conversation.bot_state or {}) if conversation is not None else {}

    async def _latest_reply_id(self) -> int:
        contact_id = await self._contact_id()
        if contact_id is None:
            return 0
        async with self.ctx.db.session() as session:
            latest = await session.scalar(
                select(func.max(Message.id)).where(Message.contact_id == contact_id)
            )
        return int(latest or 0)

    async def _replies(self) -> list[Content]:
        contact_id = await self._contact_id()
        if contact_id is None:
            return []
        async with self.ctx.db.session() as session:
            rows = (
                await session.execute(
                    select(Message.id, Message.content)
                    .where(
                        Message.contact_id == contact_id,
                        Message.direction == "out",
                        Message.id > (self.last_seen or 0),
                    )
                    .order_by(Message.id)
                )
            ).all()
        if rows:
            self.last_seen = rows[-1][0]
        return [parse_content(content) for _id, content in rows]

    async def _latest_order(self) -> Order | None:
        contact_id = await self._contact_id()
        async with self.ctx.db.session() as session:
            return await session.scalar(
                select(Order)
                .where(
                    Order.workspace_id == self.runner.workspace_id, Order.contact_id == contact_id
                )
                .order_by(Order.created_at.desc())
                .limit(1)
            )

    async def _purchase(self, step: Step) -> None:
        """A pending order through the commerce core (search → cart → checkout)."""
        assert step.purchase is not None
        wanted = step.purchase
        contact_id = await self._contact_id()
        if contact_id is None:
            raise AssertionError("say something first: the customer does not exist yet")
        found = await self.ctx.search.search(
            self.runner.workspace_id,
            SearchQuery(
                text=wanted.search,
                colours=(wanted.colour,) if wanted.colour else (),
                sizes=(wanted.size,) if wanted.size else (),
                in_stock=True,
                limit=1,
            ),
        )
        variants = [v for hit in found.hits for v in hit.variants if v.in_stock]
        if not variants:
            raise AssertionError(f"nothing in stock matches {wanted}")
        async with self.ctx.db.uow() as uow:
            cart = await carts.open_cart(uow.session, self.runner.workspace_id, contact_id)
            await carts.set_line(uow.session, cart, variants[0].id, wanted.quantity)
            await carts.update_cart(
                uow.session, cart, shipping_method=wanted.shipping, country="NL",
                fields={"shipping_method", "country"},
            )  # fmt: skip
            await carts.checkout(uow.session, cart, actor="convtest")

    async def _change_order(self, step: Step) -> None:
        assert step.order is not None
        latest = await self._latest_order()
        if latest is None:
            raise AssertionError("the customer has no order to change")
        path = {
            order_rules.PAID: [order_rules.PAID],
            order_rules.SHIPPED: [order_rules.PAID, order_rules.SHIPPED],
            order_rules.DELIVERED: [order_rules.PAID, order_rules.SHIPPED, order_rules.DELIVERED],
            order_rules.REFUNDED: [order_rules.PAID, order_rules.REFUNDED],
        }.get(step.order.status, [step.order.status])
        async with self.ctx.db.uow() as uow:
            order = await uow.session.get(Order, latest.id)
            assert order is not None
            if order.status in path:  # already part of the way there
                path = path[path.index(order.status) + 1 :]
            for status in path:
                if status == order_rules.REFUNDED:
                    order.refunded_minor = order.total_minor
                await order_rules.change_status(
                    self.ctx, uow, order, status, actor="convtest",
                    carrier=step.order.carrier if status == order_rules.SHIPPED else None,
                    tracking_number=step.order.tracking if status == order_rules.SHIPPED else None,
                    notify=False,
                )  # fmt: skip

    async def _agent_returns(self) -> None:
        conversation = await self._conversation()
        if conversation is None:
            raise AssertionError("no conversation to hand back")
        async with self.ctx.db.uow() as uow:
            row = await uow.session.get(ConversationRow, conversation.id)
            assert row is not None
            await change_status(
                uow, self.ctx.bus, row, BOT, reason="back to the assistant", actor="agent"
            )

    async def _check(self, expect: Expect, replies: list[Content], texts: list[str]) -> list[str]:
        failures: list[str] = []
        state = await self._state()
        last = state.get("last") or {}
        blob = "\n".join(texts).casefold()
        if expect.intent is not None:
            wanted = [expect.intent] if isinstance(expect.intent, str) else expect.intent
            if last.get("intent") not in wanted:
                failures.append(f"intent {last.get('intent')!r}, expected {wanted}")
        if expect.language is not None and last.get("language") != expect.language:
            failures.append(f"language {last.get('language')!r}, expected {expect.language!r}")
        for key, value in (expect.entities or {}).items():
            if (last.get("entities") or {}).get(key) != value:
                failures.append(
                    f"entity {key}={(last.get('entities') or {}).get(key)!r}, expected {value!r}"
                )
        for needle in expect.reply_contains:
            if needle.casefold() not in blob:
                failures.append(f"no reply contains {needle!r}")
        for needle in expect.reply_not_contains:
            if needle.casefold() in blob:
                failures.append(f"a reply contains {needle!r}")
        types = {r.type for r in replies}
        for kind in expect.content_types:
            if kind not in types:
                failures.append(f"no {kind} reply (got {sorted(types)})")
        if expect.cards is not None:
            shown = sum(
                len(r.products) if isinstance(r, ProductCarousel) else 1
                for r in replies
                if isinstance(r, ProductCarousel | ProductCard)
            )
            if not expect.cards.holds(shown):
                failures.append(f"{shown} products shown, expected {expect.cards}")
        if expect.payment_link is not None and (("payment_link" in types) != expect.payment_link):
            failures.append(f"payment link shown: {'payment_link' in types}")
        conversation = await self._conversation()
        status = conversation.status if conversation is not None else None
        if expect.handover is not None and (status in ("queued", "assigned")) != expect.handover:
            failures.append(f"conversation status {status!r}, handover expected: {expect.handover}")
        if expect.closed is not None and (status == "closed") != expect.closed:
            failures.append(f"conversation status {status!r}, closed expected: {expect.closed}")
        if expect.status is not None and status != expect.status:
            failures.append(f"conversation status {status!r}, expected {expect.status!r}")
        if expect.cart_total is not None or expect.cart_lines is not None:
            total, lines = await self._cart()
            if expect.cart_total is not None and not expect.cart_total.holds(float(total)):
                failures.append(f"cart total {total}, expected {expect.cart_total}")
            if expect.cart_lines is not None and lines != expect.cart_lines:
                failures.append(f"{lines} cart lines, expected {expect.cart_lines}")
        if expect.order_status is not None:
            order = await self._latest_order()
            found = order.status if order is not None else None
            if found != expect.order_status:
                failures.append(f"latest order {found!r}, expected {expect.order_status!r}")
        if expect.preferences is not None:
            prefs = await self._preferences()
            for key, value in expect.preferences.items():
                if prefs.get(key) != value:
                    failures.append(f"preference {key}={prefs.get(key)!r}, expected {value!r}")
        return failures

    async def _cart(self) -> tuple[Decimal, int]:
        contact_id = await self._contact_id()
        async with self.ctx.db.session() as session:
            cart = await session.scalar(
                select(Cart)
                .where(
                    Cart.workspace_id == self.runner.workspace_id,
                    Cart.contact_id == contact_id,
                    Cart.status == carts.OPEN,
                )
                .limit(1)
            )
            if cart is None:
                return Decimal(0), 0
            lines = await carts.lines_of(session, cart)
            totals = await carts.totals(session, cart, lines)
            return totals.total.amount, len(lines)

    async def _preferences(self) -> dict[str, Any]:
        contact_id = await self._contact_id()
        async with self.ctx.db.session() as session:
            contact = await session.get(Contact, contact_id) if contact_id else None
            return dict((contact.attributes or {}).get("preferences") or {}) if contact else {}
