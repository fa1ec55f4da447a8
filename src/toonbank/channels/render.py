"""Degrade neutral content to what a channel can show, and map plain answers back to options.

Every channel declares its :class:`~toonbank.channels.capabilities.Capabilities`. :func:`degrade`
turns one content item into a list of items the channel shows natively: buttons it cannot show
become numbered text ("1. Small"), cards become images with captions or plain text, long texts are
split at word boundaries. :func:`resolve_choice` maps the customer's answer ("2", "two", "2️⃣",
"medium") back to the offered :class:`~toonbank.channels.content.Option`, using the numbering of
:func:`numbered_options`, which is exactly the numbering the degraded text shows.

Money is formatted locale-independently by :func:`format_money` with integer arithmetic only.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import TypeAlias

from toonbank.channels.capabilities import PLAIN_TEXT, Capabilities
from toonbank.channels.content import (
    ContactCard,
    Content,
    ListPicker,
    ListSection,
    Location,
    Media,
    Option,
    OrderSummary,
    PaymentLink,
    Product,
    ProductCard,
    ProductCarousel,
    QuickReplies,
    Reply,
    Template,
    Text,
    options_of,
)

__all__ = [
    "PHRASES",
    "degrade",
    "format_money",
    "format_plain",
    "numbered_options",
    "resolve_choice",
    "split_text",
]

# --------------------------------------------------------------------------------------------
# Phrases (one dict per language so later localisation only touches data)
# --------------------------------------------------------------------------------------------

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "reply_number": "Reply with a number.",
        "pay": "Pay {amount} securely: {url}",
        "cart": "Cart",
        "order": "Order",
        "shipping": "Shipping",
        "discount": "Discount",
        "total": "Total",
        "status": "Status",
        "choose": "Choose",
    },
    "nl": {
        "reply_number": "Antwoord met een nummer.",
        "pay": "Betaal {amount} veilig: {url}",
        "cart": "Winkelwagen",
        "order": "Bestelling",
        "shipping": "Verzending",
        "discount": "Korting",
        "total": "Totaal",
        "status": "Status",
        "choose": "Kies",
    },
    "de": {
        "reply_number": "Antworten Sie mit einer Zahl.",
        "pay": "Bezahlen Sie {amount} sicher: {url}",
        "cart": "Warenkorb",
        "order": "Bestellung",
        "shipping": "Versand",
        "discount": "Rabatt",
        "total": "Gesamt",
        "status": "Status",
        "choose": "Auswählen",
    },
    "fr": {
        "reply_number": "Répondez avec un numéro.",
        "pay": "Payez {amount} en toute sécurité : {url}",
        "cart": "Panier",
        "order": "Commande",
        "shipping": "Livraison",
        "discount": "Remise",
        "total": "Total",
        "status": "Statut",
        "choose": "Choisir",
    },
    "es": {
        "reply_number": "Responde con un número.",
        "pay": "Paga {amount} de forma segura: {url}",
        "cart": "Carrito",
        "order": "Pedido",
        "shipping": "Envío",
        "discount": "Descuento",
        "total": "Total",
        "status": "Estado",
        "choose": "Elegir",
    },
    "it": {
        "reply_number": "Rispondi con un numero.",
        "pay": "Paga {amount} in modo sicuro: {url}",
        "cart": "Carrello",
        "order": "Ordine",
        "shipping": "Spedizione",
        "discount": "Sconto",
        "total": "Totale",
        "status": "Stato",
        "choose": "Scegli",
    },
    "pt": {
        "reply_number": "Responda com um número.",
        "pay": "Pague {amount} com segurança: {url}",
        "cart": "Carrinho",
        "order": "Pedido",
        "shipping": "Envio",
        "discount": "Desconto",
        "total": "Total",
        "status": "Estado",
        "choose": "Escolher",
    },
    "pl": {
        "reply_number": "Odpowiedz, podając numer.",
        "pay": "Zapłać {amount} bezpiecznie: {url}",
        "cart": "Koszyk",
        "order": "Zamówienie",
        "shipping": "Dostawa",
        "discount": "Rabat",
        "total": "Razem",
        "status": "Status",
        "choose": "Wybierz",
    },
    "ro": {
        "reply_number": "Răspunde cu un număr.",
        "pay": "Plătește {amount} în siguranță: {url}",
        "cart": "Coș",
        "order": "Comandă",
        "shipping": "Livrare",
        "discount": "Reducere",
        "total": "Total",
        "status": "Stare",
        "choose": "Alege",
    },
}
"""UI phrases keyed by language code, then phrase key. English is the fallback."""

DEFAULT_LANGUAGE = "en"


def _language(locale: str) -> str:
    """The supported language of a locale ("nl-BE", "pt_BR", "DE" → "nl", "pt", "de")."""
    language = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    return language if language in PHRASES else DEFAULT_LANGUAGE


def _phrase(key: str, locale: str) -> str:
    """One UI phrase in the locale's language, falling back to English."""
    return PHRASES[_language(locale)].get(key) or PHRASES[DEFAULT_LANGUAGE][key]


# --------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------

_EXPONENT_GROUPS: dict[int, tuple[str, ...]] = {
    0: (
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ),
    3: ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"),
    4: ("CLF", "UYW"),
}
_EXPONENTS: dict[str, int] = {
    code: exponent for exponent, codes in _EXPONENT_GROUPS.items() for code in codes
}
"""ISO-4217 minor-unit exponents that differ from the default of 2."""

_SYMBOLS: dict[str, str] = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def currency_exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (ISO 4217; 2 unless known otherwise)."""
    return _EXPONENTS.get(currency.upper(), 2)


def format_money(amount: int, currency: str) -> str:
    """Format minor units locale-independently: ``format_money(1250, "EUR") == "€12.50"``.

    Uses integer arithmetic only. Known symbols (EUR, USD, GBP, JPY) are prefixed; other
    currencies get their code and a space (``"CHF 12.34"``). Negative amounts get a leading "-".
    """
    code = currency.upper()
    exponent = currency_exponent(code)
    major, minor = divmod(abs(amount), 10**exponent)
    number = f"{major}.{minor:0{exponent}d}" if exponent else str(major)
    sign = "-" if amount < 0 else ""
    symbol = _SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"


# --------------------------------------------------------------------------------------------
# Text splitting
# --------------------------------------------------------------------------------------------

_TEXT_HARD_LIMIT = 4096
"""``Text.text`` never holds more than this, whatever the channel says."""


def _cut_word(word: str, limit: int) -> list[str]:
    """A word as-is, or hard-cut into ``limit``-sized parts when it is longer than ``limit``."""
    return [word[i : i + limit] for i in range(0, len(word), limit)]


def _fit_line(line: str, limit: int) -> list[str]:
    """One line as chunks of at most ``limit`` chars, broken at whitespace where possible."""
    if len(line) <= limit:
        return [line]
    chunks: list[str] = []
    current = ""
    for word in line.split():
        for part in _cut_word(word, limit):
            candidate = f"{current} {part}" if current else part
            if len(candidate) <= limit:
                current = candidate
            else:
                chunks.append(current)
                current = part
    if current:
        chunks.append(current)
    return chunks


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters.

    Texts within the limit come back unchanged. Longer texts are packed line by line (lines are
    kept whole when they fit) and long lines are broken at whitespace; a word is only cut when it
    alone is longer than ``limit``. Pieces are stripped of trailing whitespace; blank pieces are
    dropped.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.splitlines():
        for chunk in _fit_line(line, limit):
            candidate = f"{current}\n{chunk}" if current else chunk
            if len(candidate) <= limit:
                current = candidate
            else:
                pieces.append(current)
                current = chunk
    pieces.append(current)
    return [piece.rstrip().lstrip("\n") for piece in pieces if piece.strip()]


# --------------------------------------------------------------------------------------------
# Plain-text building blocks
# --------------------------------------------------------------------------------------------

_Item: TypeAlias = Content | str
"""An intermediate item: native content, or plain text that still has to be split into Text."""


def _one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces."""
    return " ".join(text.split())


def _option_line(number: int, option: Option) -> str:
    """``"2. Medium"`` or ``"2. Medium — fits most"`` when the option has a description."""
    line = f"{number}. {_one_line(option.title)}"
    if option.description:
        line += f" — {_one_line(option.description)}"
    return line


def _numbered(options: Iterable[Option], start: int = 1) -> list[str]:
    """Numbered option lines, starting at ``start``."""
    return [_option_line(number, option) for number, option in enumerate(options, start)]


def _with_hint(lines: list[str], has_options: bool, locale: str) -> str:
    """Join lines, adding the "Reply with a number." hint when there is something to choose."""
    if has_options:
        lines = [*lines, _phrase("reply_number", locale)]
    return "\n".join(lines)


def _choice_text(text: str | None, options: list[Option], locale: str) -> str:
    """Text followed by numbered options and the hint."""
    head = [text] if text else []
    return _with_hint([*head, *_numbered(options)], bool(options), locale)


def _price(product: Product) -> str | None:
    """The product's formatted price, when it has both an amount and a currency."""
    if product.price is None or product.currency is None:
        return None
    return format_money(product.price, product.currency)


def _product_heading(product: Product) -> str:
    """``"Blouse — €25.00"`` (or just the title when there is no price)."""
    price = _price(product)
    title = _one_line(product.title)
    return f"{title} — {price}" if price else title


def _coordinate(value: float) -> str:
    """A coordinate with at most 6 decimals and no trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def osm_url(latitude: float, longitude: float) -> str:
    """An OpenStreetMap link with a marker at the given point."""
    lat, lon = _coordinate(latitude), _coordinate(longitude)
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


_TEMPLATE_VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def _fill_template(text: str, variables: list[str]) -> str:
    """Replace WhatsApp-style ``{{1}}`` placeholders with the template's variables."""

    def substitute(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return variables[index] if 0 <= index < len(variables) else match.group(0)

    return _TEMPLATE_VARIABLE.sub(substitute, text)


# --------------------------------------------------------------------------------------------
# Per-type lowering: native content passes, the rest becomes plain text (or simpler content)
# --------------------------------------------------------------------------------------------


def _lower_quick_replies(content: QuickReplies, caps: Capabilities, locale: str) -> list[_Item]:
    """Buttons when they fit, else a list picker (≤ 10 options), else numbered text."""
    if 0 < len(content.options) <= caps.max_buttons:
        return [content]
    if caps.list_picker and len(content.options) <= 10:
        section = ListSection(options=list(content.options))
        button = _phrase("choose", locale)[:20]
        return [ListPicker(text=content.text, button=button, sections=[section])]
    return [_choice_text(content.text, list(content.options), locale)]


def _list_lines(content: ListPicker) -> list[str]:
    """Section headings and options numbered across sections."""
    lines = [content.text]
    number = 1
    for section in content.sections:
        if section.title:
            lines.append(_one_line(section.title))
        lines.extend(_numbered(section.options, number))
        number += len(section.options)
    return lines


def _lower_list(content: ListPicker, caps: Capabilities, locale: str) -> list[_Item]:
    """Native list picker, or numbered text with section titles as headings."""
    if caps.list_picker:
        return [content]
    return [_with_hint(_list_lines(content), True, locale)]


def _product_text(product: Product, text: str | None, locale: str) -> str:
    """Plain text of one product card: text, heading, subtitle, url, numbered buttons, hint."""
    lines = [text] if text else []
    lines.append(_product_heading(product))
    lines += [line for line in (product.subtitle, product.url) if line]
    lines += _numbered(product.buttons)
    return _with_hint(lines, bool(product.buttons), locale)


def _lower_product(content: ProductCard, caps: Capabilities, locale: str) -> list[_Item]:
    """Native card, or an image with the card as caption, or plain text."""
    if caps.product_card:
        return [content]
    product = content.product
    caption = _product_text(product, content.text, locale)
    if not (product.image_url and "image" in caps.media):
        return [caption]
    if len(caption) <= 1024:
        return [Media(kind="image", url=product.image_url, caption=caption)]
    return [Media(kind="image", url=product.image_url), caption]


def _carousel_text(content: ProductCarousel, locale: str) -> str:
    """Products as a short list.

    Without buttons the products are numbered ("1. Title — price" / "   url"). With buttons the
    *buttons* carry the numbers (matching :func:`numbered_options`) and products get bullets.
    """
    has_buttons = any(product.buttons for product in content.products)
    lines = [content.text] if content.text else []
    number = 1
    for index, product in enumerate(content.products, 1):
        marker = "•" if has_buttons else f"{index}."
        lines.append(f"{marker} {_product_heading(product)}")
        if product.url:
            lines.append(f"   {product.url}")
        lines += [f"   {line}" for line in _numbered(product.buttons, number)]
        number += len(product.buttons)
    return _with_hint(lines, has_buttons, locale)


def _lower_carousel(content: ProductCarousel, caps: Capabilities, locale: str) -> list[_Item]:
    """Native carousel, or one card per product, or a short list."""
    if caps.carousel:
        return [content]
    if caps.product_card:
        head: list[_Item] = [content.text] if content.text else []
        return head + [ProductCard(product=product) for product in content.products]
    return [_carousel_text(content, locale)]


_TIMES = "\u00d7"
"""Multiplication sign (U+00D7) of order lines ("2 x Blouse" with the proper sign)."""


def _order_text(content: OrderSummary, locale: str) -> str:
    """Items, shipping, discount, total (and status) as plain lines."""

    def money(amount: int) -> str:
        return format_money(amount, content.currency)

    heading = _phrase(content.kind, locale)
    lines = [f"{heading} {content.reference}" if content.reference else heading]
    for item in content.items:
        line_total = money(item.quantity * item.unit_price)
        lines.append(f"{item.quantity} {_TIMES} {_one_line(item.title)} — {line_total}")
    if content.shipping:
        lines.append(f"{_phrase('shipping', locale)}: {money(content.shipping)}")
    if content.discount:
        lines.append(f"{_phrase('discount', locale)}: {money(-content.discount)}")
    lines.append(f"{_phrase('total', locale)}: {money(content.total)}")
    if content.status:
        lines.append(f"{_phrase('status', locale)}: {content.status}")
    return "\n".join(lines)


def _payment_text(content: PaymentLink, locale: str) -> str:
    """Optional text, then ``"Pay €12.50 securely: https://…"``."""
    amount = format_money(content.amount, content.currency)
    pay = _phrase("pay", locale).format(amount=amount, url=str(content.url))
    return f"{content.text}\n{pay}" if content.text else pay


def _template_text(content: Template, locale: str) -> str:
    """Fallback text (placeholders filled) or the template name, plus numbered buttons."""
    body = (
        _fill_template(content.fallback_text, content.variables) if content.fallback_text else None
    )
    return _choice_text(body or content.name, list(content.buttons), locale)


def _media_text(content: Media) -> str:
    """Caption (or file name) and URL."""
    label = content.caption or content.filename
    return f"{label}\n{content.url}" if label else content.url


def _location_text(content: Location) -> str:
    """``"name, address"`` and an OpenStreetMap link."""
    label = ", ".join(part for part in (content.name, content.address) if part)
    url = osm_url(content.latitude, content.longitude)
    return f"{label}\n{url}" if label else url


def _contact_text(content: ContactCard) -> str:
    """Name, then one phone number or e-mail address per line."""
    return "\n".join([content.name, *content.phones, *content.emails])


def _lower_simple(content: Content, caps: Capabilities, locale: str) -> list[_Item]:
    """Content types with a plain on/off capability."""
    match content:
        case Media() if content.kind not in caps.media:
            return [_media_text(content)]
        case Location() if not caps.location:
            return [_location_text(content)]
        case ContactCard() if not caps.contact_card:
            return [_contact_text(content)]
        case OrderSummary() if not caps.order_summary:
            return [_order_text(content, locale)]
        case PaymentLink() if not caps.payment_link:
            return [_payment_text(content, locale)]
        case Template() if not caps.template:
            return [_template_text(content, locale)]
        case Reply():
            return [content.title or content.payload]
    return [content]


def _lower(content: Content, caps: Capabilities, locale: str) -> list[_Item]:
    """Native content, simpler content or unsplit plain text for one content item."""
    match content:
        case QuickReplies():
            return _lower_quick_replies(content, caps, locale)
        case ListPicker():
            return _lower_list(content, caps, locale)
        case ProductCard():
            return _lower_product(content, caps, locale)
        case ProductCarousel():
            return _lower_carousel(content, caps, locale)
    return _lower_simple(content, caps, locale)


def _text_limit(caps: Capabilities) -> int:
    """The effective text length limit (never above what ``Text`` can hold)."""
    return max(1, min(caps.max_text_length, _TEXT_HARD_LIMIT))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def degrade(content: Content, caps: Capabilities, locale: str = "en") -> list[Content]:
    """The content items this channel can show natively for ``content``.

    Natively supported content passes through unchanged (the same object). What the channel cannot
    show is degraded gracefully: buttons become a list picker or numbered text, cards become an
    image with a caption or text, order summaries / payment links / templates / locations /
    contacts / unsupported media become text, texts longer than ``caps.max_text_length`` are split
    at word boundaries. Inbound :class:`Reply` always becomes :class:`Text`. ``locale`` selects
    the language of the few fixed phrases ("Reply with a number.").
    """
    limit = _text_limit(caps)
    result: list[Content] = []
    for item in _lower(content, caps, locale):
        if isinstance(item, str):
            result += [Text(text=piece) for piece in split_text(item, limit)]
        elif isinstance(item, Text) and len(item.text) > limit:
            result += [Text(text=piece) for piece in split_text(item.text, limit)]
        else:
            result.append(item)
    return result


_PLAIN_UNLIMITED = dataclasses.replace(PLAIN_TEXT, max_text_length=sys.maxsize)


def format_plain(content: Content, locale: str = "en") -> str:
    """Readable plain text of any content (terminal channel, SMS), parts joined by blank lines.

    This is :func:`degrade` for a text-only channel without a length limit.
    """
    parts: list[str] = []
    for item in _lower(content, _PLAIN_UNLIMITED, locale):
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, Text):
            parts.append(item.text)
    return "\n\n".join(parts)


def numbered_options(content: Content) -> list[Option]:
    """The options of ``content`` in the numbering its degraded text shows (1-based)."""
    return options_of(content)


# --------------------------------------------------------------------------------------------
# Mapping plain answers back to options
# --------------------------------------------------------------------------------------------


def _number_words() -> dict[str, int]:
    """Number words 1..10 (accent-free, lower case) in the supported languages."""
    words = {
        "en": "one two three four five six seven eight nine ten",
        "nl": "een twee drie vier vijf zes zeven acht negen tien",
        "de": "eins zwei drei vier funf sechs sieben acht neun zehn",
        "fr": "un deux trois quatre cinq six sept huit neuf dix",
        "es": "uno dos tres cuatro cinco seis siete ocho nueve diez",
        "it": "uno due tre quattro cinque sei sette otto nove dieci",
        "pt": "um dois tres quatro cinco seis sete oito nove dez",
        "pl": "jeden dwa trzy cztery piec szesc siedem osiem dziewiec dziesiec",
        "ro": "unu doi trei patru cinci sase sapte opt noua zece",
    }
    table = {word: n for line in words.values() for n, word in enumerate(line.split(), 1)}
    table.update({"ein": 1, "eine": 1, "zwo": 2, "une": 1, "una": 1, "uma": 1, "duas": 2})
    return table


_NUMBER_WORDS = _number_words()
_NUMBER = re.compile(r"[#(]?\s*(\d{1,4})\s*[.):]?")
_KEYCAP_TEN = "\U0001f51f"


def _normalize(text: str) -> str:
    """Case-, accent- and whitespace-insensitive form (keycap marks and variation selectors go)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace(_KEYCAP_TEN, "10"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Me"))
    return " ".join(stripped.split())


def _number_of(answer: str) -> int | None:
    """The number in a normalized answer like "2", "2.", "2)", "#2", "two"; else None."""
    match = _NUMBER.fullmatch(answer)
    if match:
        return int(match.group(1))
    return _NUMBER_WORDS.get(answer.rstrip(".!)"))


def _unique(candidates: list[Option]) -> Option | None:
    """The only candidate, or None when there are none or several."""
    return candidates[0] if len(candidates) == 1 else None


def resolve_choice(text: str, offered: list[Option]) -> Option | None:
    """Map a customer's plain-text answer back to one of the ``offered`` options.

    In order: a number as the degraded text shows it ("2", " 2. ", "2)", "#2", "2️⃣") → the
    2nd option (1-based); an exact title (case-, accent- and whitespace-insensitive); a number word
    ("two", "twee", "zwei", "deux", "dos", … 1..10 in nine languages); a unique title prefix of at
    least 3 characters. Anything else, including out-of-range numbers, gives None.
    """
    answer = _normalize(text)
    if not answer or not offered:
        return None
    digits = _NUMBER.fullmatch(answer)
    if digits and 1 <= int(digits.group(1)) <= len(offered):
        return offered[int(digits.group(1)) - 1]
    titles = [_normalize(option.title) for option in offered]
    exact = _unique(
        [option for option, title in zip(offered, titles, strict=True) if title == answer]
    )
    if exact:
        return exact
    number = _number_of(answer)
    if number is not None:
        return offered[number - 1] if 1 <= number <= len(offered) else None
    if len(answer) < 3:
        return None
    prefixed = [o for o, title in zip(offered, titles, strict=True) if title.startswith(answer)]
    return _unique(prefixed)
