"""The engine with the real model: fast path, model path, calibration, out of scope, batches."""

from __future__ import annotations

import pytest

from toonbank.assistant.engine import UnderstandingEngine
from toonbank.assistant.evaluation import evaluate
from toonbank.assistant.nlu.intents import Example
from toonbank.assistant.taxonomy import BUILTIN_INTENTS

pytestmark = pytest.mark.timeout(300)


def test_every_builtin_intent_has_examples_in_every_language(engine: UnderstandingEngine) -> None:
    have = {(e.intent, e.language) for e in engine.examples}
    missing = [
        (i, lang)
        for i in BUILTIN_INTENTS
        for lang in ("en", "nl", "de", "fr", "es", "it", "pt", "pl", "ro")
        if (i, lang) not in have
    ]
    assert missing == []
    assert engine.intents == sorted(BUILTIN_INTENTS)


def test_fast_path_needs_no_model(engine: UnderstandingEngine) -> None:
    payload = engine.understand("Blue, M", payload="intent:add_to_cart?sku=AB-1&quantity=2")
    assert (payload.intent, payload.source, payload.confidence) == ("add_to_cart", "payload", 1.0)
    assert payload.entities["sku"] == "AB-1" and payload.entities["colour"] == ["blue"]
    # An unknown label in a payload is not trusted; the text decides.
    assert engine.understand("thx", payload="intent:drop_tables").source == "keyword"
    assert [(r.intent, r.source) for r in engine.understand_many(["Thanks!", "STOP", "agent"])] == [
        ("goodbye", "keyword"), ("opt_out", "keyword"), ("human_handover", "keyword"),
    ]  # fmt: skip
    phrase = engine.understand("Waar is mijn bestelling?")
    assert (phrase.intent, phrase.source) == ("order_status", "phrase")


def test_model_path_multilingual_and_cached(engine: UnderstandingEngine) -> None:
    texts = [
        "ik zoek een rode regenjas in maat L",
        "ich will die Bestellung 55123 stornieren",
        "quiero devolver las zapatillas, no me quedan",
        "what is the capital of peru",
    ]
    results = engine.understand_many(texts)
    assert [r.intent for r in results] == [
        "product_search", "cancel_order", "return_request", "other",
    ]  # fmt: skip
    assert [r.language for r in results] == ["nl", "de", "es", "en"]
    assert results[1].entities["order_number"] == ["55123"]
    assert results[3].out_of_scope and not results[0].out_of_scope
    for r in results:
        assert 0.0 < r.confidence <= 1.0
        assert r.source == "model"
        assert r.alternatives[0][1] >= r.alternatives[-1][1]
    again = engine.understand(texts[1])
    assert again.source == "cache" and again.intent == "cancel_order"


def test_confidence_is_calibrated_on_held_out_messages(engine: UnderstandingEngine) -> None:
    """Mean confidence tracks accuracy on messages the model never saw (within 10 points)."""
    held_out = [
        ("do u have hoodies in grey", "product_search"), ("is the bag leather", "product_question"),
        ("in mijn mandje aub", "add_to_cart"), ("weiter zur kasse", "checkout"),
        ("mon colis est ou", "order_status"), ("cambiar la direccion de mi pedido", "change_order"),
        ("annulla tutto l'ordine", "cancel_order"), ("quero devolver os tenis", "return_request"),
        ("kiedy zwrot kasy", "refund_status"), ("cat costa transportul", "delivery_info"),
        ("what time do you close", "store_info"), ("my visa got declined", "payment_problem"),
        ("een echte medewerker graag", "human_handover"), ("echt schlechter service", "complaint"),
        ("plus de messages svp", "opt_out"), ("chi vincera il campionato", "other"),
    ]  # fmt: skip
    results = engine.understand_many([t for t, _ in held_out])
    accuracy = sum(r.intent == i for r, (_, i) in zip(results, held_out, strict=True)) / 16
    confidence = sum(r.confidence for r in results) / 16
    assert accuracy >= 0.8
    assert abs(confidence - accuracy) <= 0.1


def test_business_intents_from_few_examples(engine: UnderstandingEngine) -> None:
    """A model built from a business's examples alone; unknown labels count as out of scope."""
    train = [
        *(Example(t, "gift_card") for t in (
            "do you sell gift cards", "cadeaubon kopen", "gibt es Gutscheine",
            "carte cadeau", "tarjeta regalo", "buono regalo")),
        *(Example(t, "loyalty_points") for t in (
            "how many points do I have", "spaarpunten inwisselen", "Treuepunkte",
            "points de fidélité", "puntos de fidelidad", "punti fedeltà")),
        *(Example(t, "other") for t in ("what's the weather", "tell me a joke", "who won")),
    ]  # fmt: skip
    business = UnderstandingEngine(train, encoder=engine.encoder)
    report = evaluate(
        business,
        [
            Example("giftcard for my mum", "gift_card", "en"),
            Example("cheque cadeau svp", "gift_card", "fr"),
            Example("my points balance", "loyalty_points", "en"),
            Example("wie viele punkte hab ich", "loyalty_points", "de"),
            Example("where is my parcel", "order_status", "en"),  # not in train: out of scope
        ],
    )
    assert report["n"] == 5 and report["language_accuracy"] == 1.0
    assert report["confusion"]["gift_card"] == {"gift_card": 2}
    assert report["confusion"]["loyalty_points"] == {"loyalty_points": 2}
    assert report["oos_support"] == 1
    assert set(report) >= {"accuracy", "macro_f1", "oos_recall", "oos_precision", "confusion"}
    # Keyword rules speak the built-in taxonomy only: a business set without "goodbye" never
    # gets that label.
    assert business.understand("thanks").intent in {"gift_card", "loyalty_points", "other"}
