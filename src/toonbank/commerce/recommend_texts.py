"""What a recommendation says to the shopper, in en, nl, de, fr, es, it, pt, pl and ro.

``reason(kind, language, **parts)`` fills a template; ``describe`` turns a request into the
words in the middle ("blue blouses in size M under €50"). Unknown languages fall back to
English.
"""

from __future__ import annotations

from typing import Final

from toonbank.commerce.money import Money

LANGUAGES: Final = ("en", "nl", "de", "fr", "es", "it", "pt", "pl", "ro")

TEMPLATES: Final[dict[str, dict[str, str]]] = {
    "match": {
        "en": "You asked for {what}, so here are a few that fit.",
        "nl": "Je vroeg naar {what}, dus hier zijn er een paar die passen.",
        "de": "Sie suchten {what}, hier ist eine passende Auswahl.",
        "fr": "Vous cherchiez {what} : voici une sélection qui correspond.",
        "es": "Buscabas {what}, así que aquí tienes algunas opciones.",
        "it": "Hai chiesto {what}: ecco alcune proposte adatte.",
        "pt": "Pediu {what}, por isso aqui estão algumas opções.",
        "pl": "Szukasz: {what}. Oto kilka pasujących propozycji.",
        "ro": "Ai căutat {what}, așa că iată câteva variante potrivite.",
    },
    "match_relaxed": {
        "en": "We have nothing exactly like {what}; these come closest.",
        "nl": "We hebben niets precies zoals {what}; deze komen het dichtst in de buurt.",
        "de": "Genau {what} haben wir nicht; diese kommen am nächsten.",
        "fr": "Nous n'avons rien d'exactement comme {what} ; voici le plus proche.",
        "es": "No tenemos exactamente {what}; estas son las opciones más cercanas.",
        "it": "Non abbiamo esattamente {what}; queste sono le proposte più vicine.",
        "pt": "Não temos exatamente {what}; estas são as opções mais próximas.",
        "pl": "Nie mamy dokładnie: {what}. Te propozycje są najbliższe.",
        "ro": "Nu avem exact {what}; acestea sunt cele mai apropiate.",
    },
    "similar": {
        "en": "Similar to {title}: the same kind of item, close in price.",
        "nl": "Vergelijkbaar met {title}: hetzelfde soort artikel, in dezelfde prijsklasse.",
        "de": "Ähnlich wie {title}: dieselbe Art Artikel, in einer ähnlichen Preislage.",
        "fr": "Dans le même esprit que {title} : même type d'article, prix proche.",
        "es": "Similar a {title}: el mismo tipo de artículo, a un precio parecido.",
        "it": "Simile a {title}: stesso tipo di articolo, prezzo vicino.",
        "pt": "Semelhante a {title}: o mesmo tipo de artigo, com preço próximo.",
        "pl": "Podobne do {title}: ten sam rodzaj produktu, zbliżona cena.",
        "ro": "Asemănător cu {title}: același tip de articol, preț apropiat.",
    },
    "complete": {
        "en": "Goes well with {title}.",
        "nl": "Past goed bij {title}.",
        "de": "Passt gut zu {title}.",
        "fr": "Va très bien avec {title}.",
        "es": "Combina bien con {title}.",
        "it": "Si abbina bene a {title}.",
        "pt": "Combina bem com {title}.",
        "pl": "Pasuje do {title}.",
        "ro": "Se potrivește cu {title}.",
    },
    "history": {
        "en": "Because you bought {title}, these go well with it.",
        "nl": "Omdat je {title} kocht, passen deze er goed bij.",
        "de": "Weil Sie {title} gekauft haben, passen diese gut dazu.",
        "fr": "Comme vous avez acheté {title}, ces articles l'accompagnent bien.",
        "es": "Como compraste {title}, estos combinan bien con ello.",
        "it": "Visto che hai acquistato {title}, questi si abbinano bene.",
        "pt": "Como comprou {title}, estes combinam bem.",
        "pl": "Kupiłeś {title}, więc te produkty będą pasować.",
        "ro": "Pentru că ai cumpărat {title}, acestea se potrivesc bine.",
    },
    "preferences": {
        "en": "Picked for you: {what}.",
        "nl": "Voor jou uitgekozen: {what}.",
        "de": "Für Sie ausgewählt: {what}.",
        "fr": "Sélectionné pour vous : {what}.",
        "es": "Elegido para ti: {what}.",
        "it": "Scelti per te: {what}.",
        "pt": "Escolhido para si: {what}.",
        "pl": "Wybrane dla Ciebie: {what}.",
        "ro": "Ales pentru tine: {what}.",
    },
}

_SIZE: Final = {
    "en": "in size {v}", "nl": "in maat {v}", "de": "in Größe {v}", "fr": "en taille {v}",
    "es": "en talla {v}", "it": "taglia {v}", "pt": "no tamanho {v}", "pl": "w rozmiarze {v}",
    "ro": "mărimea {v}",
}  # fmt: skip
_UNDER: Final = {
    "en": "under {v}", "nl": "onder {v}", "de": "unter {v}", "fr": "à moins de {v}",
    "es": "por menos de {v}", "it": "sotto {v}", "pt": "abaixo de {v}", "pl": "poniżej {v}",
    "ro": "sub {v}",
}  # fmt: skip
_FROM: Final = {
    "en": "from {v}", "nl": "vanaf {v}", "de": "ab {v}", "fr": "à partir de {v}",
    "es": "desde {v}", "it": "da {v}", "pt": "a partir de {v}", "pl": "od {v}", "ro": "de la {v}",
}  # fmt: skip
_IN_COLOUR: Final = {
    "en": "in {v}", "nl": "in {v}", "de": "in {v}", "fr": "en {v}", "es": "en {v}",
    "it": "in {v}", "pt": "em {v}", "pl": "w kolorze: {v}", "ro": "în {v}",
}  # fmt: skip
_IN_STOCK: Final = {
    "en": "in stock", "nl": "op voorraad", "de": "vorrätig", "fr": "en stock",
    "es": "en stock", "it": "disponibili", "pt": "em stock", "pl": "dostępne od ręki",
    "ro": "în stoc",
}  # fmt: skip
_ITEMS: Final = {
    "en": "items", "nl": "artikelen", "de": "Artikel", "fr": "articles", "es": "artículos",
    "it": "articoli", "pt": "artigos", "pl": "produkty", "ro": "articole",
}  # fmt: skip
_OR: Final = {
    "en": "or", "nl": "of", "de": "oder", "fr": "ou", "es": "o", "it": "o", "pt": "ou",
    "pl": "lub", "ro": "sau",
}  # fmt: skip

COLOUR_NAMES: Final[dict[str, tuple[str, ...]]] = {
    # one name per language, in the order of LANGUAGES
    "black": ("black", "zwart", "Schwarz", "noir", "negro", "nero", "preto", "czarnym", "negru"),
    "white": ("white", "wit", "Weiß", "blanc", "blanco", "bianco", "branco", "białym", "alb"),
    "grey": ("grey", "grijs", "Grau", "gris", "gris", "grigio", "cinzento", "szarym", "gri"),
    "blue": ("blue", "blauw", "Blau", "bleu", "azul", "blu", "azul", "niebieskim", "albastru"),
    "navy": ("navy", "marineblauw", "Marineblau", "bleu marine", "azul marino", "blu navy",
             "azul-marinho", "granatowym", "bleumarin"),
    "red": ("red", "rood", "Rot", "rouge", "rojo", "rosso", "vermelho", "czerwonym", "roșu"),
    "green": ("green", "groen", "Grün", "vert", "verde", "verde", "verde", "zielonym", "verde"),
    "yellow": ("yellow", "geel", "Gelb", "jaune", "amarillo", "giallo", "amarelo", "żółtym",
               "galben"),
    "orange": ("orange", "oranje", "Orange", "orange", "naranja", "arancione", "laranja",
               "pomarańczowym", "portocaliu"),
    "pink": ("pink", "roze", "Rosa", "rose", "rosa", "rosa", "cor-de-rosa", "różowym", "roz"),
    "purple": ("purple", "paars", "Lila", "violet", "morado", "viola", "roxo", "fioletowym",
               "mov"),
    "brown": ("brown", "bruin", "Braun", "marron", "marrón", "marrone", "castanho", "brązowym",
              "maro"),
    "beige": ("beige", "beige", "Beige", "beige", "beige", "beige", "bege", "beżowym", "bej"),
}  # fmt: skip


def language_of(value: str | None) -> str:
    """``nl-BE`` → ``nl``; anything unsupported → ``en``."""
    code = (value or "en").split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else "en"


def reason(kind: str, language: str, **parts: str) -> str:
    templates = TEMPLATES[kind]
    return templates.get(language, templates["en"]).format(**parts)


def colour_name(colour: str, language: str) -> str:
    names = COLOUR_NAMES.get(colour.lower())
    if names is None:
        return colour
    return names[LANGUAGES.index(language)]


def describe(
    language: str,
    *,
    text: str = "",
    colours: tuple[str, ...] = (),
    colours_said: bool = False,
    sizes: tuple[str, ...] = (),
    price_min: Money | None = None,
    price_max: Money | None = None,
    in_stock: bool = False,
) -> str:
    """The request in words: ``blue blouses in size M under €50.00`` (the shopper's own text
    first; colours the text already says are not repeated)."""
    words = [text.strip() or _ITEMS[language]]
    if colours and not colours_said:
        names = f" {_OR[language]} ".join(colour_name(c, language) for c in colours)
        words.append(_IN_COLOUR[language].format(v=names))
    if sizes:
        words.append(_SIZE[language].format(v=f" {_OR[language]} ".join(sizes)))
    if price_min is not None:
        words.append(_FROM[language].format(v=_money(price_min)))
    if price_max is not None:
        words.append(_UNDER[language].format(v=_money(price_max)))
    if in_stock:
        words.append(_IN_STOCK[language])
    return " ".join(words)


_SYMBOLS: Final = {"EUR": "€", "GBP": "£", "USD": "$"}


def _money(value: Money) -> str:
    symbol = _SYMBOLS.get(value.currency)
    amount = value.amount
    shown = f"{amount:.0f}" if amount == amount.to_integral_value() else f"{amount}"
    return f"{symbol}{shown}" if symbol else f"{shown} {value.currency}"
