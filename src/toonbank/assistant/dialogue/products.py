"""Product questions, answered from the catalog at this moment: price (sale included), stock
of the asked variant, sizes and colours in stock, material and brand."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.assistant.dialogue.talk import Talk
from toonbank.commerce.carts import current_price, sellable
from toonbank.commerce.search.text import colour_key
from toonbank.models import Product, ProductVariant


async def load(
    session: AsyncSession, workspace_id: str, product_id: str
) -> tuple[Product, list[ProductVariant]] | None:
    product = await session.get(Product, product_id[:32])
    if product is None or product.workspace_id != workspace_id or not product.published:
        return None
    variants = (
        await session.execute(
            select(ProductVariant)
            .where(
                ProductVariant.workspace_id == workspace_id,
                ProductVariant.product_id == product.id,
                ProductVariant.published.is_(True),
            )
            .order_by(ProductVariant.position, ProductVariant.id)
        )
    ).scalars()
    return product, list(variants)


def title_of(product: Product, language: str) -> str:
    translated = (product.translations or {}).get(language) or {}
    return str(translated.get("title") or product.title)


def variant_name(variant: ProductVariant) -> str:
    """ "Blue, 50": the options that tell one variant from another."""
    return ", ".join(x for x in (variant.colour, variant.size) if x)


def matching(
    variants: list[ProductVariant], size: str | None, colour: str | None
) -> list[ProductVariant]:
    """Variants of the asked size and colour (canonical colour names)."""
    out = []
    for v in variants:
        if size and (v.size or "").casefold() != size.casefold():
            continue
        if colour and colour not in colour_key(v.colour):
            continue
        out.append(v)
    return out


async def answer(talk: Talk, product_id: str) -> None:
    """Everything the customer may want to know about one product, read now."""
    async with talk.ctx.db.session() as session:
        found = await load(session, talk.workspace_id, product_id)
        if found is None:
            talk.say("which_product")
            return
        product, variants = found
        talk.state.focus = product.id
        title = title_of(product, talk.language)
        size = _wanted(talk, "size")
        colour = _wanted(talk, "colour")
        lines = []
        asked = matching(variants, size, colour) if (size or colour) else []
        first = asked[0] if asked else variants[0] if variants else None
        if first is not None:
            price = current_price(first)
            shown = talk.money(price.minor, price.currency)
            if first.sale_price_minor is not None and first.sale_price_minor < first.price_minor:
                regular = talk.money(first.price_minor, first.currency)
                lines.append(talk.t("product_sale", title=title, price=shown, regular=regular))
            else:
                lines.append(talk.t("product_price", title=title, price=shown))
        if size or colour:
            for variant in asked[:3]:
                count = await sellable(session, talk.workspace_id, variant)
                name = variant_name(variant)
                if count is None or count > 0:
                    shown_count = str(count) if count is not None else "✓"
                    lines.append(talk.t("product_stock", variant=name, count=shown_count))
                else:
                    lines.append(talk.t("product_no_stock", variant=name))
        else:
            in_stock = [v for v in variants if (await sellable(session, talk.workspace_id, v)) != 0]
            sizes = list(dict.fromkeys(v.size for v in in_stock if v.size))
            colours = list(dict.fromkeys(v.colour for v in variants if v.colour))
            if sizes:
                lines.append(talk.t("product_sizes", sizes=", ".join(sizes)))
            if colours:
                lines.append(talk.t("product_colours", colours=", ".join(colours)))
        material = (product.attributes or {}).get("material")
        if material:
            lines.append(talk.t("product_material", material=material))
        if product.brand:
            lines.append(talk.t("product_brand", brand=product.brand))
    talk.text_reply(" ".join(lines))


def _wanted(talk: Talk, name: str) -> str | None:
    values = talk.entities.get(name)
    if name == "size" and values:
        return str(values[0])
    if name == "colour" and values:
        return str(values[0])
    return None
