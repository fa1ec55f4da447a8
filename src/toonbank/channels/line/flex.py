"""Product cards and carousels as LINE Flex Messages (a bubble per product).

A bubble shows the product image (hero), title, subtitle and price; the product's buttons are
postback buttons (their payload comes back as a postback, like quick replies) and the product
URL opens when the image or the text is tapped. Images must be HTTPS (LINE refuses others, so a
non-HTTPS image is left out); URLs LINE cannot open (not http(s), over 1000 characters) too.
"""

from __future__ import annotations

from typing import Any

from toonbank.channels.content import Option, Product
from toonbank.channels.render import format_money

LABEL_LIMIT = 20
"""Action labels: LINE's limit for quick-reply and button labels."""
ALT_TEXT_LIMIT = 400
URI_LIMIT = 1000
IMAGE_URL_LIMIT = 2000
MUTED = "#777777"


def label(title: str) -> str:
    """An action label within LINE's 20 characters (cut with an ellipsis)."""
    return title if len(title) <= LABEL_LIMIT else title[: LABEL_LIMIT - 1] + "…"


def postback(option: Option) -> dict[str, Any]:
    """A postback action: ``data`` returns in the webhook, ``displayText`` shows as sent."""
    return {
        "type": "postback",
        "label": label(option.title),
        "data": option.payload,
        "displayText": option.title,
    }


def _uri(url: str | None) -> str | None:
    if url and url.startswith(("https://", "http://")) and len(url) <= URI_LIMIT:
        return url
    return None


def _price(product: Product) -> str | None:
    if product.price is None or product.currency is None:
        return None
    return format_money(product.price, product.currency)


def _body(product: Product, link: str | None) -> dict[str, Any]:
    contents: list[dict[str, Any]] = [
        {"type": "text", "text": product.title, "weight": "bold", "size": "md", "wrap": True}
    ]
    if product.subtitle:
        contents.append(
            {"type": "text", "text": product.subtitle, "size": "sm", "color": MUTED, "wrap": True}
        )
    price = _price(product)
    if price:
        contents.append({"type": "text", "text": price, "weight": "bold", "margin": "md"})
    body: dict[str, Any] = {
        "type": "box",
        "layout": "vertical",
        "spacing": "sm",
        "contents": contents,
    }
    if link:
        body["action"] = {"type": "uri", "uri": link}
    return body


def bubble(product: Product) -> dict[str, Any]:
    """One product as a Flex bubble."""
    link = _uri(product.url)
    result: dict[str, Any] = {"type": "bubble"}
    image = product.image_url
    if image and image.startswith("https://") and len(image) <= IMAGE_URL_LIMIT:
        hero: dict[str, Any] = {
            "type": "image",
            "url": image,
            "size": "full",
            "aspectRatio": "20:13",
            "aspectMode": "cover",
        }
        if link:
            hero["action"] = {"type": "uri", "uri": link}
        result["hero"] = hero
    result["body"] = _body(product, link)
    if product.buttons:
        result["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {
                    "type": "button",
                    "style": "primary" if index == 0 else "secondary",
                    "height": "sm",
                    "action": postback(option),
                }
                for index, option in enumerate(product.buttons)
            ],
        }
    return result


def alt_text(products: list[Product], text: str | None) -> str:
    """What notifications and old clients show instead of the Flex Message."""
    lines = [text] if text else []
    for product in products:
        price = _price(product)
        lines.append(f"{product.title} — {price}" if price else product.title)
    joined = "\n".join(lines)
    return joined if len(joined) <= ALT_TEXT_LIMIT else joined[: ALT_TEXT_LIMIT - 1] + "…"


def flex_message(products: list[Product], text: str | None) -> dict[str, Any]:
    """A bubble for one product, a carousel of bubbles for several."""
    if len(products) == 1:
        contents: dict[str, Any] = bubble(products[0])
    else:
        contents = {"type": "carousel", "contents": [bubble(p) for p in products]}
    return {"type": "flex", "altText": alt_text(products, text), "contents": contents}
