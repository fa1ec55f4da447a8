"""What a channel can show natively. The renderer degrades everything else."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Native abilities and limits of one channel.

    ``max_buttons``: how many quick-reply buttons render natively (0 = none, numbered text instead).
    ``max_text_length``: longer texts are split into several messages at word boundaries.
    """

    text: bool = True
    media: frozenset[str] = field(
        default_factory=lambda: frozenset({"image", "audio", "video", "file"})
    )
    location: bool = True
    contact_card: bool = True
    max_buttons: int = 0
    list_picker: bool = False
    product_card: bool = False
    carousel: bool = False
    order_summary: bool = False
    payment_link: bool = False
    template: bool = False
    markdown_links: bool = False
    max_text_length: int = 4096


PLAIN_TEXT = Capabilities(
    media=frozenset(), location=False, contact_card=False, max_buttons=0, max_text_length=1600
)
"""SMS-like channels: text only."""

RICH = Capabilities(
    max_buttons=13,
    list_picker=True,
    product_card=True,
    carousel=True,
    order_summary=True,
    payment_link=True,
    template=False,
    markdown_links=True,
)
"""Web chat: everything natively."""
