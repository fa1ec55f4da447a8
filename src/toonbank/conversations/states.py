"""The conversation status machine: bot → queued → assigned → closed (and back to the bot)."""

from __future__ import annotations

from typing import Final

BOT: Final = "bot"
QUEUED: Final = "queued"
ASSIGNED: Final = "assigned"
CLOSED: Final = "closed"

STATUSES: Final = (BOT, QUEUED, ASSIGNED, CLOSED)

ALLOWED: Final[dict[str, frozenset[str]]] = {
    BOT: frozenset({QUEUED, ASSIGNED, CLOSED}),
    QUEUED: frozenset({ASSIGNED, BOT, CLOSED}),
    ASSIGNED: frozenset({QUEUED, BOT, CLOSED, ASSIGNED}),
    CLOSED: frozenset(),
}


class InvalidTransition(ValueError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"cannot move a conversation from {current!r} to {target!r}")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    if target not in STATUSES:
        raise InvalidTransition(current, target)
    if target not in ALLOWED[current]:
        raise InvalidTransition(current, target)
