"""Tests for degrading neutral content per channel capabilities and resolving plain answers."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toonbank.channels.capabilities import PLAIN_TEXT, RICH, Capabilities
from toonbank.channels.content import (
    ContactCard,
    Content,
    LineItem,
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
from toonbank.channels.render import (
    PHRASES,
    degrade,
    format_money,
    format_plain,
    numbered_options,
    resolve_choice,
    split_text,
)

PROPERTY = settings(database=None, deadline=None, max_examples=150)

# --------------------------------------------------------------------------------------------
# Sample content
# --------------------------------------------------------------------------------------------

SIZES = [
    Option(title="Small", payload="size:s"),
    Option(title="Medium", payload="size:m"),
    Option(title="Large", payload="size:l"),
]
QUICK = QuickReplies(text="Which size?", options=SIZES)
LIST = ListPicker(
    text="Pick a colour",
    sections=[
        ListSection(
            title="Warm",
            options=[
                Option(title="Red", payload="c:red"),
                Option(title="Orange", payload="c:orange", description="Bright"),
            ],
        ),
        ListSection(options=[Option(title="Blue", payload="c:blue")]),
    ],
)
BLOUSE = Product(
    id="p1",
    title="Blouse",
    price=2500,
    currency="EUR",
    image_url="https://img.example.com/blouse.jpg",
    url="https://shop.example.com/p1",
    subtitle="Silk, ivory",
    buttons=[Option(title="Add to cart", payload="add:p1")],
)
SCARF = Product(
    id="p2", title="Scarf", price=1000, currency="EUR", url="https://shop.example.com/p2"
)
CARD = ProductCard(product=BLOUSE, text="New in:")
CAROUSEL = ProductCarousel(text="Our picks", products=[BLOUSE, SCARF])
ORDER = OrderSummary(
    kind="order",
    reference="A-1001",
    currency="EUR",
    items=[
        LineItem(title="Blouse", quantity=2, unit_price=2500),
        LineItem(title="Scarf", quantity=1, unit_price=1000),
    ],
    shipping=495,
    discount=500,
    total=5995,
    status="paid",
)
PAYMENT = PaymentLink(url="https://pay.example.com/p/abc", amount=1250, currency="EUR")
TEMPLATE = Template(
    name="order_shipped",
    language="en",
    variables=["Ann", "A-1001"],
    buttons=[Option(title="Track", payload="track"), Option(title="Help", payload="help")],
    fallback_text="Hi {{1}}, order {{2}} has shipped.",
)
IMAGE = Media(kind="image", url="https://img.example.com/a.jpg", caption="Look")
LOCATION = Location(latitude=52.37, longitude=4.895, name="Toonbank Store", address="Dam 1")
CONTACT = ContactCard(name="Ann", phones=["+31 20 123 4567"], emails=["ann@example.com"])
TEXT = Text(text="Hello there")

ALL_CONTENT: list[Content] = [
    TEXT,
    IMAGE,
    LOCATION,
    CONTACT,
    QUICK,
    LIST,
    CARD,
    CAROUSEL,
    ORDER,
    PAYMENT,
    TEMPLATE,
    Reply(payload="size:m", title="Medium"),
]

ORDER_TEXT = (
    "Order A-1001\n"
    "2 \u00d7 Blouse — €50.00\n"
    "1 \u00d7 Scarf — €10.00\n"
    "Shipping: €4.95\n"
    "Discount: -€5.00\n"
    "Total: €59.95\n"
    "Status: paid"
)


def texts(items: list[Content]) -> list[str]:
    """The text of every item, asserting they are all Text."""
    assert all(isinstance(item, Text) for item in items), items
    return [item.text for item in items if isinstance(item, Text)]


def only_text(content: Content, caps: Capabilities = PLAIN_TEXT, locale: str = "en") -> str:
    """The single Text a content item degrades to."""
    [text] = texts(degrade(content, caps, locale))
    return text


# --------------------------------------------------------------------------------------------
# format_money
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1250, "EUR", "€12.50"),
        (500, "JPY", "¥500"),
        (1234, "CHF", "CHF 12.34"),
        (5, "EUR", "€0.05"),
        (0, "USD", "$0.00"),
        (100000, "GBP", "£1000.00"),
        (500, "KRW", "KRW 500"),
        (1234, "KWD", "KWD 1.234"),
        (1, "BHD", "BHD 0.001"),
        (1005, "JOD", "JOD 1.005"),
        (12, "OMR", "OMR 0.012"),
        (999, "TND", "TND 0.999"),
        (1250, "eur", "€12.50"),
        (-550, "EUR", "-€5.50"),
        (-1234, "CHF", "-CHF 12.34"),
        (10**20 + 1, "EUR", "€1000000000000000000.01"),
    ],
)
def test_format_money(amount: int, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


@PROPERTY
@given(
    amount=st.integers(min_value=0, max_value=10**30),
    currency=st.sampled_from(["EUR", "USD", "GBP", "JPY", "KRW", "KWD", "BHD", "CHF", "SEK"]),
)
def test_format_money_is_exact(amount: int, currency: str) -> None:
    exponent = {"JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3}.get(currency, 2)
    number = re.sub(r"^[^0-9]+", "", format_money(amount, currency))
    assert int(number.replace(".", "")) == amount
    decimals = number.partition(".")[2]
    assert len(decimals) == exponent


# --------------------------------------------------------------------------------------------
# Native pass-through
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [c for c in ALL_CONTENT if c.type not in ("template", "reply")])
def test_rich_passes_natively(content: Content) -> None:
    [item] = degrade(content, RICH)
    assert item is content


def test_template_passes_where_supported() -> None:
    [item] = degrade(TEMPLATE, Capabilities(template=True))
    assert item is TEMPLATE


def test_rich_has_no_templates_so_they_degrade() -> None:
    assert texts(degrade(TEMPLATE, RICH)) == [
        "Hi Ann, order A-1001 has shipped.\n1. Track\n2. Help\nReply with a number."
    ]


@pytest.mark.parametrize("caps", [PLAIN_TEXT, RICH])
def test_reply_always_becomes_text(caps: Capabilities) -> None:
    assert texts(degrade(Reply(payload="size:m", title="Medium"), caps)) == ["Medium"]
    assert texts(degrade(Reply(payload="size:m"), caps)) == ["size:m"]


@pytest.mark.parametrize("content", ALL_CONTENT)
def test_plain_text_gets_only_short_texts(content: Content) -> None:
    items = degrade(content, PLAIN_TEXT)
    assert items
    assert all(0 < len(text) <= PLAIN_TEXT.max_text_length for text in texts(items))


# --------------------------------------------------------------------------------------------
# Degradation per type
# --------------------------------------------------------------------------------------------


def test_quick_replies_to_numbered_text() -> None:
    assert only_text(QUICK) == "Which size?\n1. Small\n2. Medium\n3. Large\nReply with a number."


def test_quick_replies_hint_is_localised() -> None:
    assert only_text(QUICK, locale="nl").endswith("\nAntwoord met een nummer.")
    assert only_text(QUICK, locale="de_AT").endswith("\nAntworten Sie mit einer Zahl.")
    assert only_text(QUICK, locale="xx").endswith("\nReply with a number.")
    assert set(PHRASES) == {"en", "nl", "de", "fr", "es", "it", "pt", "pl", "ro"}
    assert all(set(phrases) == set(PHRASES["en"]) for phrases in PHRASES.values())


def test_quick_replies_fit_buttons() -> None:
    [item] = degrade(QUICK, Capabilities(max_buttons=3))
    assert item is QUICK


def test_quick_replies_too_many_for_buttons_become_list() -> None:
    [item] = degrade(QUICK, Capabilities(max_buttons=2, list_picker=True))
    assert item == ListPicker(text="Which size?", sections=[ListSection(options=SIZES)])


def test_quick_replies_zero_buttons_with_list_support_become_list() -> None:
    [item] = degrade(QUICK, Capabilities(max_buttons=0, list_picker=True), locale="fr")
    assert isinstance(item, ListPicker)
    assert item.button == "Choisir"
    assert item.options() == SIZES


def test_quick_replies_over_ten_options_become_text_even_with_lists() -> None:
    options = [Option(title=f"Item {i}", payload=f"i{i}") for i in range(1, 12)]
    text = only_text(QuickReplies(text="Pick", options=options), Capabilities(list_picker=True))
    assert text.splitlines()[1] == "1. Item 1"
    assert text.splitlines()[11] == "11. Item 11"


def test_list_to_numbered_text_across_sections() -> None:
    assert only_text(LIST) == (
        "Pick a colour\nWarm\n1. Red\n2. Orange — Bright\n3. Blue\nReply with a number."
    )
    assert [o.payload for o in numbered_options(LIST)] == ["c:red", "c:orange", "c:blue"]


def test_product_card_to_image_with_caption() -> None:
    [item] = degrade(CARD, Capabilities())
    assert item == Media(
        kind="image",
        url="https://img.example.com/blouse.jpg",
        caption=(
            "New in:\nBlouse — €25.00\nSilk, ivory\nhttps://shop.example.com/p1\n"
            "1. Add to cart\nReply with a number."
        ),
    )


def test_product_card_to_text_without_images() -> None:
    assert only_text(ProductCard(product=SCARF)) == "Scarf — €10.00\nhttps://shop.example.com/p2"


def test_product_card_with_long_caption_sends_image_then_text() -> None:
    product = BLOUSE.model_copy(update={"url": "https://shop.example.com/" + "x" * 1100})
    image, text = degrade(ProductCard(product=product), Capabilities())
    assert image == Media(kind="image", url="https://img.example.com/blouse.jpg")
    assert isinstance(text, Text)
    assert text.text.startswith("Blouse — €25.00\nSilk, ivory\nhttps://shop.example.com/xxx")


def test_product_without_price_or_currency_shows_title() -> None:
    product = Product(id="p3", title="Gift", price=100)
    assert only_text(ProductCard(product=product)) == "Gift"


def test_carousel_to_cards() -> None:
    items = degrade(CAROUSEL, Capabilities(product_card=True))
    assert items == [
        Text(text="Our picks"),
        ProductCard(product=BLOUSE),
        ProductCard(product=SCARF),
    ]


def test_carousel_without_buttons_to_numbered_list() -> None:
    carousel = ProductCarousel(products=[SCARF, Product(id="p4", title="Hat", price=750)])
    assert only_text(carousel) == "1. Scarf — €10.00\n   https://shop.example.com/p2\n2. Hat"
    assert numbered_options(carousel) == []


def test_carousel_with_buttons_numbers_the_buttons() -> None:
    belt = Product(
        id="p5",
        title="Belt",
        price=1999,
        currency="EUR",
        buttons=[Option(title="Add", payload="add:p5"), Option(title="More", payload="more:p5")],
    )
    carousel = ProductCarousel(text="Our picks", products=[BLOUSE, SCARF, belt])
    assert only_text(carousel) == (
        "Our picks\n"
        "• Blouse — €25.00\n"
        "   https://shop.example.com/p1\n"
        "   1. Add to cart\n"
        "• Scarf — €10.00\n"
        "   https://shop.example.com/p2\n"
        "• Belt — €19.99\n"
        "   2. Add\n"
        "   3. More\n"
        "Reply with a number."
    )
    assert [o.payload for o in numbered_options(carousel)] == ["add:p1", "add:p5", "more:p5"]
    assert resolve_choice("3", numbered_options(carousel)) == belt.buttons[1]


def test_order_summary_to_text() -> None:
    assert only_text(ORDER) == ORDER_TEXT


def test_cart_without_extras() -> None:
    cart = OrderSummary(
        currency="JPY", items=[LineItem(title="Tea", quantity=3, unit_price=400)], total=1200
    )
    assert only_text(cart) == "Cart\n3 \u00d7 Tea — ¥1200\nTotal: ¥1200"


def test_order_summary_localised() -> None:
    assert only_text(ORDER, locale="nl").splitlines()[0] == "Bestelling A-1001"
    assert only_text(ORDER, locale="nl").splitlines()[-2] == "Totaal: €59.95"


def test_payment_link_to_text() -> None:
    assert only_text(PAYMENT) == "Pay €12.50 securely: https://pay.example.com/p/abc"
    with_text = PAYMENT.model_copy(update={"text": "Your order is ready."})
    assert only_text(with_text) == (
        "Your order is ready.\nPay €12.50 securely: https://pay.example.com/p/abc"
    )
    assert only_text(PAYMENT, locale="es") == (
        "Paga €12.50 de forma segura: https://pay.example.com/p/abc"
    )


def test_template_without_fallback_uses_name() -> None:
    template = Template(name="welcome", language="en")
    assert only_text(template) == "welcome"


def test_template_keeps_unknown_placeholders() -> None:
    template = Template(name="t", language="en", fallback_text="Hi {{1}} {{3}}", variables=["A"])
    assert only_text(template) == "Hi A {{3}}"


def test_media_not_supported_to_text() -> None:
    audio = Media(kind="audio", url="https://cdn.example.com/a.ogg", caption="Voice note")
    assert only_text(audio, Capabilities(media=frozenset({"image"}))) == (
        "Voice note\nhttps://cdn.example.com/a.ogg"
    )
    file = Media(kind="file", url="https://cdn.example.com/f.pdf", filename="invoice.pdf")
    assert only_text(file) == "invoice.pdf\nhttps://cdn.example.com/f.pdf"
    bare = Media(kind="video", url="https://cdn.example.com/v.mp4")
    assert only_text(bare) == "https://cdn.example.com/v.mp4"


def test_supported_media_kind_passes() -> None:
    [item] = degrade(IMAGE, Capabilities(media=frozenset({"image"})))
    assert item is IMAGE


def test_location_to_openstreetmap_text() -> None:
    assert only_text(LOCATION) == (
        "Toonbank Store, Dam 1\n"
        "https://www.openstreetmap.org/?mlat=52.37&mlon=4.895#map=17/52.37/4.895"
    )
    bare = Location(latitude=-33.8688, longitude=0.0)
    assert only_text(bare) == (
        "https://www.openstreetmap.org/?mlat=-33.8688&mlon=0#map=17/-33.8688/0"
    )


def test_contact_to_text() -> None:
    assert only_text(CONTACT) == "Ann\n+31 20 123 4567\nann@example.com"


def test_text_passes_when_short_and_splits_when_long() -> None:
    assert degrade(TEXT, PLAIN_TEXT)[0] is TEXT
    caps = Capabilities(max_text_length=11)
    assert texts(degrade(Text(text="aaaa bbbb cccc dddd"), caps)) == ["aaaa bbbb", "cccc dddd"]


def test_long_numbered_text_is_split_between_lines() -> None:
    options = [Option(title=f"Option number {i:02d}", payload=str(i)) for i in range(1, 14)]
    caps = Capabilities(max_text_length=60)
    pieces = texts(degrade(QuickReplies(text="Pick one", options=options), caps))
    assert len(pieces) > 1
    lines = [line for piece in pieces for line in piece.splitlines()]
    assert lines[0] == "Pick one"
    assert lines[1:14] == [f"{i}. Option number {i:02d}" for i in range(1, 14)]
    assert lines[14] == "Reply with a number."


def test_format_plain() -> None:
    assert format_plain(ORDER) == ORDER_TEXT
    assert format_plain(TEXT) == "Hello there"
    assert format_plain(QUICK, "it").endswith("3. Large\nRispondi con un numero.")
    assert format_plain(Reply(payload="yes")) == "yes"


def test_format_plain_does_not_split() -> None:
    options = [Option(title="x" * 80, payload=str(i)) for i in range(13)]
    content = QuickReplies(text="y" * 1000, options=options)
    plain = format_plain(content)
    assert len(plain) > PLAIN_TEXT.max_text_length
    assert plain == "\n\n".join(texts(degrade(content, Capabilities(media=frozenset()))))


def test_numbered_options_matches_options_of() -> None:
    for content in ALL_CONTENT:
        assert numbered_options(content) == options_of(content)


# --------------------------------------------------------------------------------------------
# split_text
# --------------------------------------------------------------------------------------------


def test_split_text_examples() -> None:
    assert split_text("short", 10) == ["short"]
    assert split_text("abcdefghij klm", 4) == ["abcd", "efgh", "ij", "klm"]
    assert split_text("line one\nline two\nthree", 17) == ["line one\nline two", "three"]
    assert split_text("para\n\n\nnext paragraph", 10) == ["para", "next", "paragraph"]
    with pytest.raises(ValueError, match="limit"):
        split_text("x", 0)


@PROPERTY
@given(
    words=st.lists(st.text(alphabet="abcdéfg€😀", min_size=1, max_size=12), max_size=60),
    separators=st.lists(st.sampled_from([" ", "\n", "  ", "\n\n", "\t"]), max_size=60),
    limit=st.integers(min_value=12, max_value=80),
)
def test_split_text_keeps_words(words: list[str], separators: list[str], limit: int) -> None:
    text = "".join(w + s for w, s in zip(words, separators + [" "] * len(words), strict=False))
    pieces = split_text(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    assert " ".join(pieces).split() == text.split()


@PROPERTY
@given(text=st.text(max_size=400), limit=st.integers(min_value=1, max_value=50))
def test_split_text_any_text(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(len(piece) <= limit for piece in pieces)
    assert "".join("".join(p.split()) for p in pieces) == "".join(text.split())
    if len(text) > limit:
        assert all(piece.strip() for piece in pieces)


# --------------------------------------------------------------------------------------------
# resolve_choice
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "2",
        " 2. ",
        "2)",
        "#2",
        "(2)",
        "2️⃣",
        "2\u20e3",
        "\uff12",
        "02",
        "two",
        "Two!",
        "twee",
        "zwei",
        "deux",
        "dos",
        "due",
        "dois",
        "doi",
        "dwa",
        "medium",
        "  MÉDIUM ",
        "Med",
        "mediu",
    ],
)
def test_resolve_choice_second_option(answer: str) -> None:
    assert resolve_choice(answer, SIZES) is SIZES[1]


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "   ",
        "0",
        "4",
        "#9",
        "-1",
        "four",
        "vier",
        "2.5",
        "Me",
        "xl",
        "banana",
        "1 2",
        "9" * 5000,
    ],
)
def test_resolve_choice_none(answer: str) -> None:
    assert resolve_choice(answer, SIZES) is None


def test_resolve_choice_number_words_one_to_five() -> None:
    options = [Option(title=f"Choice {c}", payload=c) for c in "abcde"]
    words = {
        "en": ["one", "two", "three", "four", "five"],
        "nl": ["een", "twee", "drie", "vier", "vijf"],
        "de": ["eins", "zwei", "drei", "vier", "fünf"],
        "fr": ["un", "deux", "trois", "quatre", "cinq"],
        "es": ["uno", "dos", "tres", "cuatro", "cinco"],
    }
    for language in words.values():
        assert [resolve_choice(w, options) for w in language] == options


def test_resolve_choice_keycap_ten() -> None:
    options = [Option(title=f"Choice {i}", payload=str(i)) for i in range(1, 12)]
    assert resolve_choice("🔟", options) is options[9]
    assert resolve_choice("11", options) is options[10]


def test_resolve_choice_prefix_must_be_unique() -> None:
    options = [Option(title="Blue jeans", payload="a"), Option(title="Blue shirt", payload="b")]
    assert resolve_choice("blue", options) is None
    assert resolve_choice("blue s", options) is options[1]
    assert resolve_choice("Blue   Jeans", options) is options[0]


def test_resolve_choice_exact_title_beats_number_words() -> None:
    options = [Option(title="A", payload="a"), Option(title="B", payload="b")]
    options.append(Option(title="One", payload="one"))
    assert resolve_choice("one", options) is options[2]
    assert resolve_choice("1", options) is options[0]


def test_resolve_choice_out_of_range_number_may_match_a_numeric_title() -> None:
    options = [Option(title="6", payload="six"), Option(title="12", payload="twelve")]
    assert resolve_choice("2", options) is options[1]
    assert resolve_choice("12", options) is options[1]
    assert resolve_choice("13", options) is None


def test_resolve_choice_nothing_offered() -> None:
    assert resolve_choice("1", []) is None


_TITLES = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30
).filter(lambda t: t.strip())


def _options(titles: list[str]) -> list[Option]:
    return [Option(title=t, payload=f"p{i}") for i, t in enumerate(titles)]


@PROPERTY
@given(titles=st.lists(_TITLES, min_size=1, max_size=13, unique=True))
def test_degraded_numbers_resolve_to_their_option(titles: list[str]) -> None:
    options = _options(titles)
    content = QuickReplies(text="Pick one", options=options)
    lines = "\n".join(texts(degrade(content, PLAIN_TEXT))).splitlines()
    offered = numbered_options(content)
    for number, option in enumerate(options, 1):
        assert f"{number}. {' '.join(option.title.split())}" in lines
        assert resolve_choice(str(number), offered) is option
        assert resolve_choice(f" #{number}) ", offered) is option
    beyond = str(len(options) + 1)
    chosen = resolve_choice(beyond, offered)
    # Out of range: nothing, unless an option's title *is* that number (e.g. "3" or "³").
    assert chosen is None or unicodedata.normalize("NFKC", chosen.title).strip() == beyond


@PROPERTY
@given(
    sections=st.lists(
        st.lists(_TITLES, min_size=1, max_size=4, unique=True), min_size=1, max_size=4
    )
)
def test_list_numbers_resolve_across_sections(sections: list[list[str]]) -> None:
    picker = ListPicker(
        text="Pick",
        sections=[ListSection(title=f"S{i}", options=_options(t)) for i, t in enumerate(sections)],
    )
    text = only_text(picker, Capabilities(max_text_length=4096))
    offered = numbered_options(picker)
    shown = dict(re.findall(r"^(\d+)\. (.*)$", text, flags=re.MULTILINE))
    assert len(shown) == len(offered)
    for number, option in enumerate(offered, 1):
        assert shown[str(number)] == " ".join(option.title.split())
        assert resolve_choice(str(number), offered) is option


@PROPERTY
@given(
    titles=st.lists(
        st.text(alphabet="abcdefgh XYZ", min_size=1, max_size=12).filter(lambda t: t.strip()),
        min_size=1,
        max_size=13,
        unique_by=lambda t: " ".join(t.casefold().split()),
    )
)
def test_exact_titles_resolve(titles: list[str]) -> None:
    options = _options(titles)
    for option in options:
        assert resolve_choice(option.title.upper(), options) is option


@PROPERTY
@given(answer=st.text(max_size=60), titles=st.lists(_TITLES, min_size=1, max_size=13))
def test_resolve_choice_never_fails(answer: str, titles: list[str]) -> None:
    options = _options(titles)
    result = resolve_choice(answer, options)
    assert result is None or result in options
