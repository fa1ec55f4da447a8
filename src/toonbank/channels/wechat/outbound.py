"""Customer-service message bodies (``POST /cgi-bin/message/custom/send``).

- Text → ``text``.
- QuickReplies (≤ 10 options) → ``msgmenu``: the options become tappable lines with ids "1",
  "2", … (their position; WeChat sends the tapped line back as a text message whose content is
  the option title, which the pipeline maps back to the option).
- ProductCard → ``msgmenu`` when the product has buttons (heading, subtitle, link and the
  buttons), else a ``news`` card (title, description, picture, link) when it has a URL, else text.
- Images are not sent natively: WeChat needs a ``media_id`` from an upload, so the renderer
  turns them into text with the URL.
"""

from __future__ import annotations

from typing import Any

from toonbank.channels.base import SendError
from toonbank.channels.content import Content, Option, Product, ProductCard, QuickReplies, Text
from toonbank.channels.render import format_money

MAX_MENU_OPTIONS = 10


def message_body(recipient: str, content: Content) -> dict[str, Any]:
    """The JSON body for one (already degraded) content item."""
    if isinstance(content, Text):
        return _text(recipient, content.text)
    if isinstance(content, QuickReplies):
        return _menu(recipient, content.text, list(content.options))
    if isinstance(content, ProductCard):
        return _product(recipient, content)
    raise SendError(
        f"WeChat cannot send {content.type} natively (degrade it first)",
        retryable=False,
        error_code="unsupported_content",
    )


def _text(recipient: str, text: str) -> dict[str, Any]:
    return {"touser": recipient, "msgtype": "text", "text": {"content": text}}


def _menu(recipient: str, head: str, options: list[Option]) -> dict[str, Any]:
    items = [
        {"id": str(number), "content": option.title}
        for number, option in enumerate(options[:MAX_MENU_OPTIONS], 1)
    ]
    return {
        "touser": recipient,
        "msgtype": "msgmenu",
        "msgmenu": {"head_content": head, "list": items},
    }


def _heading(product: Product) -> str:
    """``"Linen blazer — €129.50"`` (or just the title)."""
    if product.price is None or product.currency is None:
        return product.title
    return f"{product.title} — {format_money(product.price, product.currency)}"


def _product(recipient: str, card: ProductCard) -> dict[str, Any]:
    product = card.product
    description = "\n".join(line for line in (card.text, product.subtitle) if line)
    if product.buttons:
        lines = [card.text, _heading(product), product.subtitle, product.url]
        return _menu(recipient, "\n".join(x for x in lines if x), list(product.buttons))
    if product.url:
        article: dict[str, Any] = {"title": _heading(product), "url": product.url}
        if description:
            article["description"] = description
        if product.image_url:
            article["picurl"] = product.image_url
        return {"touser": recipient, "msgtype": "news", "news": {"articles": [article]}}
    return _text(
        recipient, "\n".join(x for x in (card.text, _heading(product), product.subtitle) if x)
    )
