"""Product discovery: a state machine that asks for what is missing, then shows results.

    idle ─product_search→ ask_item? → ask_size? → ask_colour? → ask_budget? → results
                                    ↑ corrections ("no, size L") update a slot and search again

A question is asked only when it narrows the results (more than a few products match) and at
most once per search. A remembered size is used, and the reply says so. Results are a carousel
whose prices and stock come from the search index at that moment, introduced by a reason made
of what the customer asked for.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from toonbank.assistant.dialogue import memory
from toonbank.assistant.dialogue.state import DISCOVERY
from toonbank.assistant.dialogue.talk import Talk
from toonbank.assistant.dialogue.words import colour_for, colour_word, item_words
from toonbank.channels.content import Option, Product, ProductCarousel
from toonbank.commerce.search import SearchQuery, SearchResult

SHOWN = 5
NARROW = 3
SIZE_OPTIONS = 8
COLOUR_OPTIONS = 6
BUDGET_FROM = 8
"""Ask for a budget only when more products than this still match."""
BUDGETS = (50, 100, 200)


def absorb(talk: Talk, text: str, *, new_search: bool = False) -> bool:
    """Put the item, colour, size and budget found in ``text`` into the slots; True if any."""
    slots = talk.state.slots
    if new_search:
        talk.state.slots = slots = {}
        talk.state.asked = []
    found = _entities(talk, text)
    changed = False
    item = item_words(text, talk.language)
    if item:
        if slots.get("item") and slots["item"] != item:
            for key in ("size", "size_from_memory"):
                slots.pop(key, None)
        slots["item"], changed = item, True
        # The catalog speaks English (and its translations): search the canonical category
        # when the words name one ("kurtki" → jacket), the customer's words otherwise.
        categories = found.get("category") or []
        slots["query"] = str(categories[0]) if categories else item
    colour = colour_word(text)
    if colour:
        slots["colour"], slots["colour_word"], changed = colour[0], colour[1], True
    sizes = found.get("size")
    if sizes:
        slots["size"], changed = str(sizes[0]), True
        slots.pop("size_from_memory", None)
    price = found.get("price")
    if isinstance(price, dict) and price.get("max"):
        slots["budget"], changed = str(price["max"]), True
    return changed


def _entities(talk: Talk, text: str) -> dict[str, Any]:
    if text == talk.understanding.text:
        return talk.entities
    from toonbank.assistant.nlu import entities as entity_rules

    return entity_rules.extract(text, talk.language)


async def search(talk: Talk, *, size: bool = True, colour: bool = True) -> SearchResult:
    slots = talk.state.slots
    budget = slots.get("budget")
    query = SearchQuery(
        text=str(slots.get("query") or slots.get("item", "")),
        colours=(str(slots["colour"]),) if colour and slots.get("colour") else (),
        sizes=(str(slots["size"]),) if size and slots.get("size") else (),
        price_max=Decimal(str(budget)) if budget else None,
        in_stock=True,
        language=talk.language,
        limit=SHOWN,
    )
    return await talk.ctx.search.search(talk.workspace_id, query)


async def advance(talk: Talk) -> None:
    """Ask the next useful question, or show the results."""
    state = talk.state
    state.flow = DISCOVERY
    slots = state.slots
    if not slots.get("item"):
        state.step = "ask_item"
        talk.say("ask_item")
        return
    if not slots.get("size") and "size" not in state.asked:
        loose = await search(talk, size=False)
        sizes = [v for v, _n in sorted(loose.facets.get("size", []))]
        remembered = memory.size_for(talk.preferences, str(slots["item"]))
        general = str(talk.preferences.get("size") or "")
        if not remembered and general.casefold() in {s.casefold() for s in sizes}:
            remembered = general  # "I'm a size 50", said before, fits this kind of item
        if remembered:
            slots["size"], slots["size_from_memory"] = remembered, True
            talk.say("memory_used", size=remembered)
        elif loose.total > NARROW and len(sizes) > 1:
            state.asked.append("size")
            state.step = "ask_size"
            _ask_size(talk, sizes)
            return
    result = await search(talk)
    if not slots.get("colour") and "colour" not in state.asked and result.total > NARROW:
        colours = [v for v, _n in sorted(result.facets.get("colour", []), key=lambda x: -x[1])]
        if len(colours) > 1:
            state.asked.append("colour")
            state.step = "ask_colour"
            _ask_colour(talk, colours)
            return
    if not slots.get("budget") and "budget" not in state.asked and result.total > BUDGET_FROM:
        state.asked.append("budget")
        state.step = "ask_budget"
        tiers = [
            (talk.t("budget_under", amount=talk.money(t * 100, "EUR")), f"slot:budget={t}")
            for t in BUDGETS
        ]
        talk.ask(talk.t("ask_budget"), [*tiers, (talk.t("opt_any"), "slot:budget=*")])
        return
    await show(talk, result)


def _ask_size(talk: Talk, sizes: list[str]) -> None:
    options = [(s.upper(), f"slot:size={s.upper()}") for s in _size_order(sizes)[:SIZE_OPTIONS]]
    talk.ask(talk.t("ask_size"), [*options, (talk.t("opt_any"), "slot:size=*")])


def _ask_colour(talk: Talk, colours: list[str]) -> None:
    options = [(c.capitalize(), f"slot:colour={c}") for c in colours[:COLOUR_OPTIONS]]
    talk.ask(talk.t("ask_colour"), [*options, (talk.t("opt_any"), "slot:colour=*")])


def _size_order(sizes: list[str]) -> list[str]:
    letters = ["xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl"]

    def key(size: str) -> tuple[int, float, str]:
        low = size.lower()
        if low in letters:
            return (0, float(letters.index(low)), low)
        try:
            return (1, float(low.replace(",", ".")), low)
        except ValueError:
            return (2, 0.0, low)

    return sorted(sizes, key=key)


async def reask(talk: Talk) -> None:
    """Repeat the pending question after a digression."""
    step = talk.state.step
    if step == "ask_item":
        talk.say("ask_item")
    elif step in ("ask_size", "ask_colour", "ask_budget"):
        talk.state.asked = [a for a in talk.state.asked if a != step.removeprefix("ask_")]
        await advance(talk)


def answer_slot(talk: Talk, payload: str) -> None:
    """A tapped clarifying answer: ``slot:size=50``, ``slot:colour=blue``, ``*`` = any."""
    name, _, value = payload.removeprefix("slot:").partition("=")
    if name not in ("size", "colour", "budget"):
        return
    if value == "*":
        talk.state.slots.pop(name, None)
    else:
        talk.state.slots[name] = value[:40]
        if name == "colour":
            talk.state.slots["colour_word"] = (talk.text or value).lower()[:40]


def _reason(talk: Talk, count: int, *, relaxed: bool = False, empty: bool = False) -> str:
    slots = talk.state.slots
    item = str(slots.get("item", ""))
    if slots.get("colour"):
        colour = colour_for(talk.language, str(slots["colour"]), slots.get("colour_word"))
        item = talk.t("item_colour", colour=colour, item=item)
    details = ""
    if slots.get("size"):
        details += talk.t("detail_size", size=slots["size"])
    if slots.get("budget"):
        details += talk.t(
            "detail_budget", amount=talk.money(int(Decimal(str(slots["budget"])) * 100), "EUR")
        )
    key = "no_results" if empty else "reason_relaxed" if relaxed else "reason"
    return talk.t(key, item=item, details=details, count=count)


async def show(talk: Talk, result: SearchResult) -> None:
    state = talk.state
    state.step = "results"
    if not result.hits:
        state.shown = []
        talk.text_reply(_reason(talk, 0, empty=True))
        return
    talk.text_reply(_reason(talk, len(result.hits), relaxed=result.relaxed))
    products = []
    for hit in result.hits:
        variant = next(
            (v for v in hit.variants if v.in_stock), hit.variants[0] if hit.variants else None
        )
        price = variant.price if variant else hit.price_from
        details = ", ".join(x for x in (variant.colour, variant.size) if x) if variant else ""
        buttons = [Option(title=talk.t("btn_info"), payload=f"info:{hit.id}")]
        if variant is not None:
            buttons.insert(0, Option(title=talk.t("btn_add"), payload=f"add:{variant.id}"))
        products.append(
            Product(
                id=hit.id,
                title=hit.title[:255],
                price=price.minor,
                currency=price.currency,
                image_url=hit.image,
                subtitle=details[:255] or None,
                buttons=buttons,
            )
        )
    talk.replies.append(ProductCarousel(products=products))
    state.shown = [hit.id for hit in result.hits]
    state.focus = result.hits[0].id if len(result.hits) == 1 else None
