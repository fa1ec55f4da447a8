"""Control words, the handover wait and the contact's memory, without the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

from toonbank.assistant.dialogue import control
from toonbank.assistant.dialogue.policy import DEFAULT_CART_TOTAL, Policy
from toonbank.assistant.dialogue.words import colour_word, item_words

HOURS = {
    "assistant": {
        "business_hours": {
            "timezone": "Europe/Amsterdam",
            "weekly": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        },
        "wait_minutes": 15,
        "handover_cart_total": 25000,
        "handover_intents": ["complaint"],
    }
}


def test_never_mind_yes_no_and_corrections_in_several_languages() -> None:
    for text in ("never mind", "Laat maar!", "lascia perdere", "Vergiss es", "niewazne"):
        assert control.is_cancel(text), text
    assert not control.is_cancel("I want to cancel my order")
    assert control.is_yes("ja graag") and control.is_yes("Sí") and control.is_no("nee")
    assert control.correction("nee, maat L") == "maat l"
    assert control.correction("No, size M please") == "size m please"
    assert control.correction("nog een vraag") is None
    assert control.strongly_negative("Dit is echt schandalig")
    assert not control.strongly_negative("where is my order?")
    assert control.asks_price("how much is it?") and not control.asks_price("shipping costs?")


def test_the_product_words_of_a_message() -> None:
    assert item_words("Hoi, ik zoek een blauwe blazer maat 50", "nl") == "blazer"
    assert item_words("I'm looking for black sneakers size 42", "en") == "sneakers"
    assert item_words("szukam czarnej kurtki", "pl") == "kurtki"
    assert item_words("ik ben een maat 50", "nl") == ""
    assert colour_word("een blauwe blazer") == ("blue", "blauwe")


def test_wait_follows_business_hours() -> None:
    policy = Policy.of(HOURS)
    assert policy.cart_total == 25000 and policy.intents == {"complaint"}
    tuesday_noon = datetime(2025, 6, 3, 10, 0, tzinfo=UTC)  # 12:00 in Amsterdam
    assert policy.wait_text("en", tuesday_noon) == "Someone usually replies within 15 minutes."
    saturday = datetime(2025, 6, 7, 10, 0, tzinfo=UTC)
    assert policy.wait_text("nl", saturday) == (
        "Ons team is weer bereikbaar 09-06 09:00; dan reageren we."
    )


def test_defaults_and_a_broken_setting() -> None:
    broken = Policy.of({"assistant": {"business_hours": {"timezone": "Mars/Base", "weekly": {}}}})
    assert broken.hours is None and broken.cart_total == DEFAULT_CART_TOTAL
    assert Policy.of(None).wait_text("de", datetime(2025, 6, 7, tzinfo=UTC)).startswith("Meist")
