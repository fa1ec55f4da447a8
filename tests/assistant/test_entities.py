"""Entities in the nine languages, as customers type them."""

from __future__ import annotations

from datetime import date

from toonbank.assistant.nlu.entities import extract

TODAY = date(2026, 12, 1)


def test_product_search_entities() -> None:
    found = extract("2x zwarte trui maat M tussen 20 en 40 euro", "nl", TODAY)
    assert found == {
        "colour": ["black"], "category": ["sweater"], "size": ["M"],
        "price": {"min": "20", "max": "40", "currency": "EUR"}, "quantity": 2,
    }  # fmt: skip
    assert extract("do you have red sneakers in size 42 under 80 euro?", "en", TODAY) == {
        "colour": ["red"], "category": ["sneakers"], "size": ["42"],
        "price": {"max": "80", "currency": "EUR"},
    }  # fmt: skip
    polish = extract("szukam czarnej kurtki poniżej 200 zł", "pl", TODAY)
    assert polish["price"] == {"max": "200", "currency": "PLN"} and polish["colour"] == ["black"]
    assert extract("Größe 38, rosu", "de", TODAY) == {"colour": ["red"], "size": ["38"]}


def test_order_contact_date_place() -> None:
    found = extract("order #A12345 is late, mail jan@example.com or +31 6 12345678", "en", TODAY)
    assert found == {
        "email": ["jan@example.com"], "order_number": ["A12345"], "phone": ["+31612345678"],
    }  # fmt: skip
    assert extract("wo ist bestellung 77812", "de", TODAY) == {"order_number": ["77812"]}
    french = extract("livrer 3 pièces à Paris demain ou le 24/12", "fr", TODAY)
    assert french["date"] == ["2026-12-24", "2026-12-02"]
    assert french["place"] == ["Paris"] and french["quantity"] == 3
    assert extract("lieferung nach Wien am 2027-01-05", "de", TODAY) == {
        "date": ["2027-01-05"], "place": ["Wien"],
    }  # fmt: skip


def test_nothing_is_invented() -> None:
    assert extract("hello there", "en", TODAY) == {}
    assert extract("up to 3 people can help?", "en", TODAY) == {}
    assert extract("31/02 is not a date", "en", TODAY) == {}
