"""Entities from a message: colour, size, category, price range, quantity, order number, dates,
places, email and phone. Rule-based and multilingual (the nine built-in languages), typed on
folded text so "rosso", "röd", "roșu" and "rosu" all match.

Values are canonical where a canon exists: colours and categories in English, sizes upper
case, prices as decimal strings with the currency if given, dates ISO 8601.
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import date, timedelta
from typing import Any

from toonbank.assistant.nlu.text import fold

_COLOURS: dict[str, str] = {
    "black": "black zwart zwarte schwarz schwarze schwarzen noir noire negro negra nero nera "
    "preto preta czarny czarna czarne czarnej negru neagra",
    "white": "white wit witte weiss weisse weissen blanc blanche blanco blanca bianco bianca "
    "bianche branco branca bialy biala biale alb alba albi",
    "red": "red rood rode rot rote roten rouge rouges rojo roja rojas rosso rossa rosse "
    "vermelho vermelha vermelhas czerwony czerwona czerwone rosu rosie rosii",
    "blue": "blue blauw blauwe blau blaue blauen bleu bleue azul azules blu niebieski "
    "niebieska niebieskie albastru albastra",
    "green": "green groen groene grun grune vert verte verde verdi zielony zielona zielone",
    "yellow": "yellow geel gele gelb gelbe jaune amarillo giallo amarelo zolty zolta galben",
    "grey": "grey gray grijs grijze grau graue gris grigio cinzento cinza szary szara gri",
    "pink": "pink roze rosa rose rozowy rozowa roz",
    "brown": "brown bruin bruine braun braune marron marrom brazowy maro",
    "beige": "beige bez",
    "orange": "orange oranje naranja arancione laranja pomaranczowy portocaliu",
    "purple": "purple paars lila violet violeta viola roxo fioletowy mov",
    "navy": "navy marine marineblau",
}
_CATEGORIES: dict[str, str] = {
    "shoes": "shoes shoe schoenen schoen schuhe schuh chaussures zapatos zapatillas scarpe "
    "sapatos buty pantofi",
    "sneakers": "sneakers sneaker trainers baskets tenis ténis adidasi trampki turnschuhe",
    "boots": "boots laarzen stiefel bottes botas stivali kozaki cizme",
    "jacket": "jacket jackets jas jassen jacke jacken veste chaqueta giacca casaco kurtka "
    "kurtki kurtke geaca coat mantel manteau abrigo cappotto",
    "dress": "dress dresses jurk jurken kleid kleider robe robes vestido vestidos vestito "
    "vestiti sukienka sukienki rochie rochii",
    "t-shirt": "t-shirt tshirt tshirts shirt shirts camiseta camisetas maglietta "
    "magliette koszulka koszulki tricou tricouri",
    "sweater": "sweater sweaters trui truien pullover pulli pull jersey maglione camisola "
    "sweter pulover hoodie hoodies sudadera sudaderas bluza",
    "jeans": "jeans spijkerbroek vaqueros blugi dzinsy ganga",
    "trousers": "trousers pants broek broeken hose pantalon pantalones pantaloni calcas spodnie",
    "bag": "bag bags tas tassen tasche sac bolso borsa mala torba geanta",
    "backpack": "backpack backpacks rugzak rucksack rucksacke sac-a-dos mochila zaino plecak "
    "rucsac",
    "hat": "hat hats cap pet muts hut mutze chapeau sombrero cappello chapeu czapka palarie",
    "socks": "socks sokken socken chaussettes calcetines calzini meias skarpetki sosete",
}


def _index(table: dict[str, str]) -> dict[str, str]:
    return {word: canon for canon, words in table.items() for word in words.split()}


_COLOUR_WORDS = _index(_COLOURS)
_CATEGORY_WORDS = _index(_CATEGORIES)

_NUMBER = r"(\d+(?:[.,]\d{1,2})?)"
_CURRENCY = r"(?:\s?(€|eur|euro|euros|\$|usd|£|gbp|zl|zloty|pln|lei|ron|chf))?"
_UNDER = (
    r"under|below|less than|max|maximum|up to|onder|minder dan|tot|maximaal|unter|bis|"
    r"hochstens|moins de|jusqu'a|sous|menos de|hasta|por debajo de|sotto|meno di|fino a|"
    r"abaixo de|ate|ponizej|do|mniej niz|sub|pana la|mai putin de"
)
_OVER = (
    r"over|above|more than|from|boven|vanaf|meer dan|uber|ab|plus de|a partir de|mas de|"
    r"sopra|oltre|piu di|acima de|mais de|powyzej|od|peste|de la"
)
_BETWEEN = r"between|tussen|zwischen|entre|tra|fra|miedzy|intre"
_AND = r"and|en|und|et|y|e|i|a|si|-|to|tot|bis|a"

_PRICE_BETWEEN = re.compile(
    rf"(?:{_BETWEEN})?\s*{_NUMBER}{_CURRENCY}\s*(?:{_AND})\s*{_NUMBER}{_CURRENCY}", re.I
)
_PRICE_UNDER = re.compile(rf"\b(?:{_UNDER})\s+(?:de\s+|di\s+|i\s+)?{_NUMBER}{_CURRENCY}", re.I)
_PRICE_OVER = re.compile(rf"\b(?:{_OVER})\s+{_NUMBER}{_CURRENCY}", re.I)
_STRICT_UNDER = re.compile(r"\b(?:under|onder|unter|sous|menos|sotto|abaixo|ponizej|sub)\b")
_MONEY_HINT = re.compile(r"€|\$|£|\beur|\beuro|\bzl|\bpln|\blei|\bron\b|\bchf", re.I)

_SIZE_LETTER = re.compile(r"(?<![\w])(XXS|XS|S|M|L|XL|XXL|XXXL|[2-5]XL)(?![\w])")
_SIZE_NUMBER = re.compile(
    r"\b(?:size|maat|grosse|groesse|taille|talla|taglia|tamanho|rozmiar|rozmiarze|marimea|"
    r"marime|numar|nr)\s*:?\s*(\d{1,2}(?:[.,]5)?|xxs|xs|s|m|l|xl|xxl)\b",
    re.I,
)
_QUANTITY = re.compile(
    r"\b(\d{1,3})\s*(?:x\b|pcs|pieces|stuks|stuk|stuck|stueck|pieces|pièces|unidades|unidad|"
    r"pezzi|pezzo|unidades|sztuk|sztuki|bucati|buc)\b|\b(?:x\s?)(\d{1,3})\b",
    re.I,
)
_ORDER = re.compile(
    r"(?:#\s?([A-Z0-9-]{4,20})\b)|\b(?:order|bestelling|bestellung|commande|pedido|ordine|"
    r"encomenda|zamowienie|zamowienia|zamowieniu|comanda|comenzii|nr|no|number|nummer|numero|"
    r"numer)\.?\s*(?:n[or]\.?\s*|#\s*)?([A-Z]{0,4}-?\d{4,12})\b",
    re.I,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DMY_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2,4}))?\b")
_RELATIVE = {
    0: "today vandaag heute aujourd'hui aujourdhui hoy oggi hoje dzisiaj dzis azi astazi",
    1: "tomorrow morgen demain manana domani amanha jutro maine",
    -1: "yesterday gisteren gestern hier ayer ieri ontem wczoraj",
}
_RELATIVE_WORDS = {w: d for d, words in _RELATIVE.items() for w in words.split()}
_PLACE_PREP = re.compile(
    r"\b(?:in|to|naar|nach|in der|a|à|en|em|para|w|do|în|la|deliver to|ship to|near|bij)\s+"
    r"([A-ZÀ-Ý][\w'-]+(?:\s[A-ZÀ-Ý][\w'-]+)?)"
)
_PLACES = [
    "amsterdam",
    "rotterdam",
    "utrecht",
    "den",
    "haag",
    "eindhoven",
    "antwerpen",
    "brussel",
    "bruxelles",
    "gent",
    "berlin",
    "munchen",
    "muenchen",
    "hamburg",
    "koln",
    "frankfurt",
    "wien",
    "zurich",
    "paris",
    "lyon",
    "marseille",
    "madrid",
    "barcelona",
    "valencia",
    "sevilla",
    "milano",
    "milan",
    "roma",
    "rome",
    "napoli",
    "torino",
    "lisboa",
    "lisbon",
    "porto",
    "warszawa",
    "warsaw",
    "krakow",
    "wroclaw",
    "gdansk",
    "poznan",
    "bucuresti",
    "bucharest",
    "cluj",
    "iasi",
    "timisoara",
    "london",
    "dublin",
    "belgium",
    "belgie",
    "belgique",
    "germany",
    "duitsland",
    "deutschland",
    "allemagne",
    "alemania",
    "germania",
    "niemiec",
    "niemiecka",
    "austria",
    "oostenrijk",
    "osterreich",
    "switzerland",
    "schweiz",
    "suisse",
    "svizzera",
    "france",
    "frankrijk",
    "frankreich",
    "francia",
    "franta",
    "spain",
    "spanje",
    "spanien",
    "espagne",
    "espana",
    "spagna",
    "hiszpania",
    "italy",
    "italie",
    "italien",
    "italia",
    "portugal",
    "poland",
    "polen",
    "pologne",
    "polonia",
    "polska",
    "romania",
    "roemenie",
    "rumanien",
    "roumanie",
    "netherlands",
    "nederland",
    "holland",
    "uk",
    "canarias",
    "brasil",
    "brazil",
    "moldova",
]
_PLACE_SET = set(_PLACES)


def _amount(number: str, currency: str | None) -> dict[str, str]:
    value = number.replace(",", ".")
    out = {"amount": value}
    if currency:
        symbol = currency.lower()
        out["currency"] = {
            "€": "EUR",
            "eur": "EUR",
            "euro": "EUR",
            "euros": "EUR",
            "$": "USD",
            "usd": "USD",
            "£": "GBP",
            "gbp": "GBP",
            "zl": "PLN",
            "zloty": "PLN",
            "pln": "PLN",
            "lei": "RON",
            "ron": "RON",
            "chf": "CHF",
        }[symbol]
    return out


def _price(text: str) -> dict[str, Any] | None:
    folded = fold(text)
    match = _PRICE_BETWEEN.search(folded)
    if match and (re.search(_BETWEEN, folded, re.I) or _MONEY_HINT.search(match.group(0))):
        low, cur1, high, cur2 = match.groups()
        currency = cur2 or cur1
        lo, hi = _amount(low, currency), _amount(high, currency)
        result: dict[str, Any] = {"min": lo["amount"], "max": hi["amount"]}
        if "currency" in hi:
            result["currency"] = hi["currency"]
        return result
    for pattern, key in ((_PRICE_UNDER, "max"), (_PRICE_OVER, "min")):
        match = pattern.search(folded)
        if match and (match.group(2) or _MONEY_HINT.search(folded) or key == "max"):
            amount = _amount(match.group(1), match.group(2))
            # "up to 3" without money words is not a price; "under 50" is.
            if (
                key == "max"
                and not match.group(2)
                and not _MONEY_HINT.search(folded)
                and not _STRICT_UNDER.search(folded)
            ):
                continue
            result = {key: amount["amount"]}
            if "currency" in amount:
                result["currency"] = amount["currency"]
            return result
    return None


def _dates(text: str, today: date) -> list[str]:
    found: list[str] = []
    for y, m, d in _ISO_DATE.findall(text):
        with suppress(ValueError):
            found.append(date(int(y), int(m), int(d)).isoformat())
    stripped = _ISO_DATE.sub(" ", text)
    for d, m, y in _DMY_DATE.findall(stripped):
        year = int(y) if y else today.year
        if y and year < 100:
            year += 2000
        with suppress(ValueError):
            found.append(date(year, int(m), int(d)).isoformat())
    for word in re.findall(r"[\w']+", fold(text)):
        if word in _RELATIVE_WORDS:
            found.append((today + timedelta(days=_RELATIVE_WORDS[word])).isoformat())
    return list(dict.fromkeys(found))


def _phones(text: str, region: str | None) -> list[str]:
    import phonenumbers

    out = []
    for match in phonenumbers.PhoneNumberMatcher(text, region or "NL"):
        out.append(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
    return out


_REGION = {
    "en": "GB",
    "nl": "NL",
    "de": "DE",
    "fr": "FR",
    "es": "ES",
    "it": "IT",
    "pt": "PT",
    "pl": "PL",
    "ro": "RO",
}


def extract(text: str, language: str | None = None, today: date | None = None) -> dict[str, Any]:
    """Entities found in ``text``; keys appear only when something was found."""
    today = today or date.today()
    folded = fold(text)
    words = re.findall(r"[\w-]+", folded)
    entities: dict[str, Any] = {}

    colours = list(dict.fromkeys(_COLOUR_WORDS[w] for w in words if w in _COLOUR_WORDS))
    if colours:
        entities["colour"] = colours
    categories: list[str] = []
    for i, word in enumerate(words):
        two = f"{word} {words[i + 1]}" if i + 1 < len(words) else ""
        if two in _CATEGORY_WORDS:
            categories.append(_CATEGORY_WORDS[two])
        elif word in _CATEGORY_WORDS:
            categories.append(_CATEGORY_WORDS[word])
    if categories:
        entities["category"] = list(dict.fromkeys(categories))

    email = _EMAIL.findall(text)
    if email:
        entities["email"] = email
    scrubbed = _EMAIL.sub(" ", text)
    order = [a or b for a, b in _ORDER.findall(scrubbed)]
    if order:
        entities["order_number"] = list(dict.fromkeys(o.upper() for o in order))
    phones = _phones(scrubbed, _REGION.get(language or ""))
    phones = [p for p in phones if not any(o in p for o in order)]
    if phones:
        entities["phone"] = phones

    sizes = [m.upper().replace(",", ".") for m in _SIZE_NUMBER.findall(folded)]
    sizes += _SIZE_LETTER.findall(text)
    if sizes:
        entities["size"] = list(dict.fromkeys(sizes))
    price = _price(text)
    if price:
        entities["price"] = price
    quantity = [int(a or b) for a, b in _QUANTITY.findall(folded)]
    if quantity:
        entities["quantity"] = quantity[0]
    dates = _dates(scrubbed, today)
    if dates:
        entities["date"] = dates
    places = [p for p in _PLACES if re.search(rf"\b{re.escape(p)}\b", folded)]
    for match in _PLACE_PREP.findall(text):
        if fold(match) not in _PLACE_SET and fold(match).split()[0] not in _CATEGORY_WORDS:
            places.append(match)
    if places:
        entities["place"] = list(dict.fromkeys(p if p[0].isupper() else p.title() for p in places))
    return entities
