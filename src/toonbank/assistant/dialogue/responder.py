"""The ``assistant`` responder: understands each message and runs the dialogue's state machines.

Per turn: load the persisted :class:`DialogueState`, understand the message (language sticks to
the conversation's), then, in order: come back from a handover, greet on the first message,
tapped options, "never mind", the answer to a pending question, corrections, handover rules,
the intent's flow; a message not understood twice in a row goes to a person.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from toonbank.assistant.dialogue import control, discovery, info, memory, orders, products, shopping
from toonbank.assistant.dialogue.knowledge import KNOWLEDGE_BASE, KnowledgeSearch
from toonbank.assistant.dialogue.policy import Policy
from toonbank.assistant.dialogue.state import DISCOVERY, ORDER, DialogueState
from toonbank.assistant.dialogue.talk import Talk
from toonbank.assistant.engine import Understanding
from toonbank.assistant.metrics import assistant_turn_event, count_turn
from toonbank.assistant.service import engine_for_workspace
from toonbank.channels.content import Reply, Text
from toonbank.commerce import carts
from toonbank.models import Workspace
from toonbank.responders.base import Turn, TurnResult

CONFIDENT = 0.5
ROUTED = frozenset(
    {
        "greeting", "goodbye", "product_search", "product_question", "add_to_cart", "checkout",
        "order_status", "change_order", "cancel_order", "return_request", "refund_status",
        "delivery_info", "store_info", "payment_problem", "human_handover", "complaint", "opt_out",
    }
)  # fmt: skip


class AssistantResponder:
    name = "assistant"

    def __init__(self, knowledge: KnowledgeSearch = KNOWLEDGE_BASE) -> None:
        self.knowledge = knowledge

    async def respond(self, turn: Turn) -> TurnResult:
        if turn.services is None:
            raise RuntimeError("the assistant needs the shop's services (Turn.services)")
        ctx = turn.services
        state = DialogueState.load(turn.state)
        state.turns += 1
        text, payload = _words(turn)
        async with ctx.db.session() as session:
            settings = await session.scalar(
                select(Workspace.settings).where(Workspace.id == turn.workspace_id)
            )
            engine = await engine_for_workspace(session, turn.workspace_id)
            preferences = await memory.load(session, turn.workspace_id, turn.contact_id)
        understood = _tapped_understanding(text, payload, turn.language)
        if understood is None:
            understood = await asyncio.to_thread(
                engine.understand, text or "-", turn.language, None
            )
        language = understood.language
        if payload and turn.language:
            language = turn.language  # a tapped option says nothing about the language
        talk = Talk(
            turn=turn, ctx=ctx, state=state, understanding=understood, language=language,
            policy=Policy.of(settings), text=text, payload=payload, preferences=preferences,
        )  # fmt: skip
        misunderstood = state.misunderstood
        await self._route(talk)
        fallback = state.misunderstood > misunderstood
        state.last = {
            "intent": understood.intent,
            "confidence": round(understood.confidence, 3),
            "entities": understood.entities,
            "language": language,
        }
        if talk.generation is not None:  # only with the generative layer on
            state.last["generation"] = talk.generation
        if talk.handover:
            state.handed_over = talk.handover
            state.handover = await _context(talk)
        return TurnResult(
            replies=talk.replies,
            state=state.dump(),
            handover_reason=talk.handover,
            close_reason=talk.close,
            language=language,
            events=[
                assistant_turn_event(
                    workspace_id=turn.workspace_id,
                    conversation_id=turn.conversation_id,
                    contact_id=turn.contact_id,
                    intent=understood.intent,
                    language=language,
                    confidence=understood.confidence,
                    fallback=fallback,
                    source="tap" if payload else "text",
                )
            ],
            after_commit=[count_turn(understood.intent, language, fallback)],
        )

    async def _route(self, talk: Talk) -> None:
        state = talk.state
        if state.handed_over:  # back from people: start clean, no rule fires twice
            state.handed_over, state.handover, state.misunderstood = None, {}, 0
            state.reset_flow()
            talk.say("welcome_back")
        if not talk.text and not talk.payload:  # a photo, a file, a location: no words to read
            kind = getattr(talk.turn.content, "kind", talk.turn.content.type)
            talk.say("media_received", kind=kind)
            return
        if talk.turn.first_message:
            talk.say("greeting", shop=talk.policy.shop_name)
            if talk.intent in ("greeting", "other") and not talk.entities and not talk.payload:
                _menu(talk)
                return
        if talk.payload and await self._tapped(talk, talk.payload):
            state.misunderstood = 0
            return
        if control.is_cancel(talk.text):
            state.reset_flow()
            talk.say("never_mind")
            return
        if await self._pending(talk):
            state.misunderstood = 0
            return
        await self._intent(talk)

    async def _tapped(self, talk: Talk, payload: str) -> bool:
        kind, _, rest = payload.partition(":")
        state = talk.state
        if kind == "menu":
            if rest == "shop":
                state.reset_flow()
                await discovery.advance(talk)
            elif rest == "order":
                await orders.handle(talk, "order_status")
            elif rest == "human":
                talk.hand_over("customer asked for a person")
            else:
                _menu(talk)
        elif kind == "slot":
            discovery.answer_slot(talk, payload)
            await discovery.advance(talk)
        elif kind == "info":
            await products.answer(talk, rest)
        elif kind == "add":
            await shopping.add_variant(talk, rest)
        elif kind == "cart":
            if rest == "checkout":
                await shopping.start_checkout(talk)
            else:
                state.reset_flow()
                talk.say("ask_item")
                state.flow, state.step = DISCOVERY, "ask_item"
        elif kind == "ship":
            await shopping.choose_shipping(talk, rest)
        elif kind == "order":
            action, _, order_id = rest.partition(":")
            if action in orders.ACTIONS:
                await orders.handle(talk, action, order_id)
        elif kind == "confirm" and state.step == "confirm_cancel":
            await orders.confirm_cancel(talk, rest == "yes")
        else:
            return False
        return True

    async def _pending(self, talk: Talk) -> bool:
        """The answer to the question we asked, or a correction of the search."""
        state, text = talk.state, talk.text
        if state.step == "confirm_cancel" and (control.is_yes(text) or control.is_no(text)):
            await orders.confirm_cancel(talk, control.is_yes(text))
            return True
        if state.flow == ORDER and state.step == "ask_number" and orders.numbers_in(talk):
            await orders.handle(talk, str(state.slots.get("action", "order_status")))
            return True
        if state.flow != DISCOVERY:
            return False
        corrected = control.correction(text)
        if corrected is not None and discovery.absorb(talk, corrected):
            await self._remember(talk)
            await discovery.advance(talk)
            return True
        off_topic = talk.intent not in (
            "product_search",
            "add_to_cart",
            "product_question",
            "other",
        )
        if off_topic and talk.understanding.confidence >= CONFIDENT:
            return False  # a digression: answered by its own flow, then we come back
        if state.step == "ask_budget" and text.strip().isdigit():
            state.slots["budget"] = str(int(text.strip()))
            await discovery.advance(talk)
            return True
        asking = ("ask_item", "ask_size", "ask_colour", "ask_budget")
        if state.step in asking and discovery.absorb(talk, text):
            await self._remember(talk)
            await discovery.advance(talk)
            return True
        if state.step == "ask_size" and text.strip().isdigit() and len(text.strip()) <= 3:
            state.slots["size"] = text.strip().upper()[:12]
            await self._remember(talk)
            await discovery.advance(talk)
            return True
        refined = state.step == "results" and talk.intent == "product_search"
        if refined and discovery.absorb(talk, text, new_search=bool(_item_in(talk))):
            await self._remember(talk)
            await discovery.advance(talk)
            return True
        return False

    async def _remember(self, talk: Talk) -> None:
        slots = talk.state.slots
        if not slots.get("size") or slots.get("size_from_memory"):
            return
        item = str(slots.get("item") or "") or None
        if memory.size_for(talk.preferences, item) == slots["size"]:
            return
        async with talk.ctx.db.uow() as uow:
            await memory.remember(
                uow.session, talk.workspace_id, talk.contact_id,
                item=item, size=str(slots["size"]), colour=slots.get("colour"),
            )  # fmt: skip

    async def _remember_size(self, talk: Talk, size: str) -> None:
        async with talk.ctx.db.uow() as uow:
            await memory.remember(uow.session, talk.workspace_id, talk.contact_id, size=size)
        talk.preferences = {**talk.preferences, "size": size}
        talk.state.slots.pop("size", None)
        talk.say("memory_saved", size=size)

    async def _intent(self, talk: Talk) -> None:
        state, intent = talk.state, talk.intent
        resume = (
            state.step
            if state.flow == DISCOVERY and state.step and state.step != "results"
            else None
        )
        if control.strongly_negative(talk.text) or intent == "complaint":
            talk.hand_over("complaint", "handover_complaint")
            return
        if intent in talk.policy.intents:
            talk.hand_over(f"business rule: {intent}")
            return
        if (state.focus or state.shown) and control.asks_price(talk.text):
            intent = "product_question"  # "how much is it?" about the product just shown
        if intent == "add_to_cart" and not (state.focus or state.shown) and _item_in(talk):
            intent = "product_search"  # nothing shown yet to add: "a blue blazer in 50" is a search
        named = talk.entities.get("colour") and _item_in(talk)
        if intent in ("add_to_cart", "product_question") and named and not talk.payload:
            intent = "product_search"  # "blue blazer size 50": a new product, not the shown one
        vague = intent == "other" or talk.understanding.confidence < CONFIDENT
        variant_words = talk.entities.get("size") or talk.entities.get("colour")
        if state.focus and vague and variant_words and not _item_in(talk):
            intent = "product_question"  # "is it there in 52?" about the product in focus
        understood = intent in ROUTED and talk.understanding.confidence >= CONFIDENT
        understood = understood or intent != talk.intent
        if not understood and not (intent in ROUTED and _has_slots(talk)):
            await self._not_understood(talk)
            return
        state.misunderstood = 0
        if intent == "human_handover":
            talk.hand_over("customer asked for a person")
        elif intent == "greeting":
            if not talk.turn.first_message:
                _menu(talk)
        elif intent == "goodbye":
            talk.say("goodbye")
            state.reset_flow()
        elif intent == "product_search":
            discovery.absorb(talk, talk.text, new_search=True)
            if not state.slots.get("item") and state.slots.get("size"):
                await self._remember_size(talk, str(state.slots["size"]))  # "I'm a size 50"
            await self._remember(talk)
            await discovery.advance(talk)
        elif (
            intent in ("product_question", "store_info")
            and state.focus
            and talk.entities.get("place")
        ):
            await info.stores(talk)  # "do you have it in Amsterdam?": stock in that store
        elif intent == "product_question":
            target = state.focus or (state.shown[0] if len(state.shown) == 1 else None)
            if target:
                await products.answer(talk, target)
            elif state.shown:
                await shopping.ask_product(talk)
            elif not await info.knowledge_answer(talk, self.knowledge):
                discovery.absorb(talk, talk.text, new_search=True)
                await discovery.advance(talk)
        elif intent == "add_to_cart":
            await shopping.add_from_text(talk)
        elif intent == "checkout":
            await shopping.start_checkout(talk)
        elif intent in orders.ACTIONS:
            await orders.handle(talk, intent, knowledge=self.knowledge)
        elif intent == "delivery_info":
            await info.delivery(talk, self.knowledge)
        elif intent == "store_info":
            await info.stores(talk)
        elif intent == "payment_problem":
            await info.payment_problem(talk)
        elif intent == "opt_out":
            await info.opt_out(talk)
        if resume and not talk.handover and state.flow == DISCOVERY and state.step == resume:
            talk.say("resume")
            await discovery.reask(talk)

    async def _not_understood(self, talk: Talk) -> None:
        state = talk.state
        # The understanding engine's out-of-scope decision is final: retrieval scores alone do
        # not separate "what's the weather?" from a policy question (docs/benchmarks.md), so
        # articles answer only messages that are in scope but not routed with confidence.
        if talk.intent != "other" and await info.knowledge_answer(talk, self.knowledge):
            state.misunderstood = 0
            return
        state.misunderstood += 1
        if state.misunderstood >= talk.policy.misunderstood_limit:
            state.misunderstood = 0
            talk.hand_over("not understood twice", "handover_not_understood")
            return
        talk.say("not_understood")
        _menu(talk)


_PAYLOAD_INTENTS = {
    "add": "add_to_cart", "info": "product_question", "slot": "product_search",
    "cart": "checkout", "ship": "checkout", "confirm": "cancel_order",
    "menu:shop": "product_search", "menu:order": "order_status", "menu:human": "human_handover",
}  # fmt: skip


def _tapped_understanding(
    text: str, payload: str | None, language: str | None
) -> Understanding | None:
    """A tapped option of ours needs no model: its payload says what it means."""
    if not payload or not language:
        return None
    kind = payload.split(":", 1)[0]
    intent = _PAYLOAD_INTENTS.get(payload) or _PAYLOAD_INTENTS.get(kind)
    if kind == "order":
        intent = payload.split(":")[1] if payload.count(":") >= 2 else None
    if intent is None:
        return None
    return Understanding(
        text=text, language=language, language_confidence=1.0, intent=intent,
        confidence=1.0, out_of_scope=False, entities={}, source="payload",
    )  # fmt: skip


def _words(turn: Turn) -> tuple[str, str | None]:
    content = turn.content
    if isinstance(content, Reply):
        return (content.title or "")[:1000], content.payload
    if isinstance(content, Text):
        return content.text[:1000], None
    return "", None


def _item_in(talk: Talk) -> str:
    from toonbank.assistant.dialogue.words import item_words

    return item_words(talk.text, talk.language)


def _has_slots(talk: Talk) -> bool:
    return bool(
        talk.entities.get("size")
        or talk.entities.get("colour")
        or talk.entities.get("order_number")
    )


def _menu(talk: Talk) -> None:
    talk.ask(
        talk.t("menu"),
        [
            (talk.t("opt_shop"), "menu:shop"),
            (talk.t("opt_order"), "menu:order"),
            (talk.t("opt_human"), "menu:human"),
        ],
    )


async def _context(talk: Talk) -> dict[str, Any]:
    """What the person taking over needs: why, the intent, what was asked, the cart."""
    slots = {
        k: v
        for k, v in talk.state.slots.items()
        if k in ("item", "colour", "size", "budget", "order")
    }
    context: dict[str, Any] = {
        "reason": talk.handover,
        "intent": talk.intent,
        "language": talk.language,
        "slots": slots,
        "summary": _summary(talk, slots),
    }
    async with talk.ctx.db.session() as session:
        from toonbank.models import Cart

        cart = await session.scalar(
            select(Cart)
            .where(
                Cart.workspace_id == talk.workspace_id,
                Cart.contact_id == talk.contact_id,
                Cart.status == carts.OPEN,
            )
            .limit(1)
        )
        if cart is not None:
            lines = await carts.lines_of(session, cart)
            if lines:
                totals = await carts.totals(session, cart, lines)
                context["cart"] = {
                    "id": cart.id,
                    "lines": [{"title": x.title, "quantity": x.quantity} for x in lines],
                    "total": totals.total.to_json(),
                }
    return context


def _summary(talk: Talk, slots: dict[str, Any]) -> str:
    parts = [f"handover: {talk.handover}", f"intent: {talk.intent}", f"language: {talk.language}"]
    if slots:
        parts.append("asked: " + ", ".join(f"{k}={v}" for k, v in slots.items()))
    return "; ".join(parts)
