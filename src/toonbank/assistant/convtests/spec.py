"""The YAML format of a conversation test (one or more documents per file).

    name: Blue blazer in Dutch
    channel: webchat            # webchat (rich cards, taps) or terminal (plain text, numbers)
    user: shared-customer-1     # optional: the same customer across tests (memory)
    settings: {handover_cart_total: 10000}   # optional: the workspace's assistant settings
    turns:
      - say: "Hoi, ik zoek een blauwe blazer maat 50"
        expect:
          language: nl
          intent: product_search
          entities: {colour: [blue], size: ["50"]}
          reply_contains: ["blauwe blazer", "maat 50"]
          cards: {min: 1}
      - tap: 1                   # the 1st option offered (or its title)
        expect: {cart_total: {min: 1}}
      - purchase: {search: blazer, colour: blue, size: "50"}   # bought earlier (pending order)
      - order: {status: shipped, carrier: PostNL, tracking: 3SABC123}   # the shop acts
      - agent_returns: true      # a person hands the conversation back to the assistant

Expectations: ``intent``, ``language``, ``entities`` (subset), ``reply_contains`` /
``reply_not_contains`` (case-insensitive, on the replies' plain text), ``content_types``
(each must appear), ``cards`` (products shown: a number or ``{min, max}``), ``handover`` and
``closed`` (booleans), ``status`` (conversation status), ``cart_total`` (major units: a number
or ``{min, max}``), ``cart_lines``, ``order_status`` (the customer's latest order), ``payment_link``
(boolean), ``preferences`` (subset of the contact's remembered preferences).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: float | None = None
    max: float | None = None

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min - 1e-9) and (
            self.max is None or value <= self.max + 1e-9
        )


def _range(value: Any) -> Any:
    if isinstance(value, int | float):
        return {"min": value, "max": value}
    return value


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intent: str | list[str] | None = None
    language: str | None = None
    entities: dict[str, Any] | None = None
    reply_contains: list[str] = Field(default_factory=list)
    reply_not_contains: list[str] = Field(default_factory=list)
    content_types: list[str] = Field(default_factory=list)
    cards: Range | None = None
    handover: bool | None = None
    closed: bool | None = None
    status: str | None = None
    cart_total: Range | None = None
    cart_lines: int | None = None
    order_status: str | None = None
    payment_link: bool | None = None
    preferences: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("cards", "cart_total"):
                if key in data:
                    data[key] = _range(data[key])
            for key in ("reply_contains", "reply_not_contains", "content_types"):
                if isinstance(data.get(key), str):
                    data[key] = [data[key]]
        return data


class OrderChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str
    carrier: str | None = None
    tracking: str | None = None


class Purchase(BaseModel):
    """The customer bought something before this turn (cart + checkout, a pending order)."""

    model_config = ConfigDict(extra="forbid")
    search: str
    colour: str | None = None
    size: str | None = None
    quantity: int = Field(default=1, ge=1, le=99)
    shipping: str = "postnl-standard"


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    say: str | None = Field(default=None, max_length=4000)
    tap: int | str | None = None
    purchase: Purchase | None = None
    order: OrderChange | None = None
    agent_returns: bool = False
    expect: Expect = Field(default_factory=Expect)

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [self.say is not None, self.tap is not None, self.order is not None]
        actions.append(self.purchase is not None)
        actions.append(self.agent_returns)
        if sum(actions) != 1:
            raise ValueError("a turn has exactly one of: say, tap, purchase, order, agent_returns")
        return self


class Conversation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    channel: str = Field(default="webchat", pattern="^(webchat|terminal)$")
    user: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    turns: list[Step] = Field(min_length=1)
    source: str = ""


def load(path: Path) -> list[Conversation]:
    """The conversations of a file, or of every ``*.yaml``/``*.yml`` under a directory."""
    files = (
        sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        if path.is_dir()
        else [path]
    )
    out: list[Conversation] = []
    for file in files:
        for number, document in enumerate(yaml.safe_load_all(file.read_text("utf-8")), 1):
            if document is None:
                continue
            items = document if isinstance(document, list) else [document]
            for item in items:
                conversation = Conversation.model_validate(item)
                conversation.source = f"{file.name}#{number}"
                out.append(conversation)
    return out
