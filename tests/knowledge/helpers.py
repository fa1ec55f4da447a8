"""A small help centre used by the knowledge tests (English, two Dutch translations)."""

from __future__ import annotations

from toonbank.knowledge import ArticleIn

RETURNS_EN = ArticleIn(
    title="Returns and exchanges",
    body="You can return items within 30 days of delivery, unworn and with the labels "
    "attached. Returning in one of our stores is free.",
    language="en",
    slug="returns",
    source_url="https://shop.test/help/returns",
)
RETURNS_NL = ArticleIn(
    title="Retourneren en ruilen",
    body="Je kunt artikelen binnen 30 dagen na bezorging terugsturen, ongedragen en met de "
    "labels er nog aan. Retourneren in de winkel is gratis.",
    language="nl",
    slug="returns",
)
PAYMENT_EN = ArticleIn(
    title="Payment methods",
    body="We accept iDEAL, Bancontact, credit cards, PayPal and Klarna (pay later in 30 days).",
    language="en",
    slug="payment",
    tags=("payment",),
)
WARRANTY_EN = ArticleIn(
    title="Warranty",
    body="All products have a two-year warranty on manufacturing defects such as a broken zip.",
    language="en",
    slug="warranty",
)
ARTICLES = [RETURNS_EN, RETURNS_NL, PAYMENT_EN, WARRANTY_EN]
