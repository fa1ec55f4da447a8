"""What the customer is looking for, in their own words: the message minus chat filler,
colours, sizes and prices ("Hoi, ik zoek een blauwe blazer maat 50" → "blazer")."""

from __future__ import annotations

import re

from toonbank.assistant.nlu import entities as entity_rules
from toonbank.assistant.nlu.text import fold

FILLER = frozenset(
    """
    hi hello hey hiya good morning afternoon evening please thanks thank you i im i'm me my we
    a an the some any for of in on at to with and or do does you have got is are there
    looking look search searching find want need would like could can show see buy get
    size sized price budget euro euros eur under below max cheap cheaper something one ones
    hoi hallo hee goedemorgen goedemiddag goedenavond dag ik je jij u we wij een de het
    zoek zoeken op naar wil wilde graag heb hebben hebt jullie is er zijn mag kan kun
    toon laat zien voor met en of in maat prijs onder maximaal iets nog mooie mooi leuke
    guten tag morgen ich suche mochte mochten brauche habt haben sie einen eine ein der die
    das ich bitte fur mit und in grosse zeigen gibt es
    bonjour salut je cherche voudrais veux besoin avez vous un une des le la les pour avec
    et en taille moins montrez
    hola buenos dias busco quiero necesito tienen tiene teneis un una unos unas el la los
    las para con y en talla menos quisiera
    ciao buongiorno cerco vorrei voglio avete un una uno il lo la gli le per con e in
    taglia meno
    ola bom dia procuro quero preciso tem voces um uma o os as para com e em tamanho
    menos
    czesc dzien dobry szukam chce potrzebuje macie jakis jakas jakies w z i dla rozmiar
    rozmiarze ponizej prosze
    salut buna caut vreau am nevoie aveti un o niste pentru cu si in marime marimea sub
    ben am bin bist suis soy sono sou jestem sunt also too ook auch aussi tambien anche
    it this that these those hij zij ze die dat deze er ihn ihm sie es il elle ils lui ella
    ello ese esa esto eso lo quello questa questo ele ela isso isto ten ta to ono el ea asta
    available beschikbaar verfugbar disponible disponibile disponivel dostepny disponibil
    i'll ill take neem nehme prends tomo prendo levo biore iau add cart winkelwagen mandje
    warenkorb panier carrito carrello carrinho koszyka koszyk cos
    """.split()  # noqa: SIM905
)
_WORD = re.compile(r"[\w'-]+")


def colour_word(text: str) -> tuple[str, str] | None:
    """(canonical colour, the customer's word for it) of the first colour in ``text``."""
    for word in _WORD.findall(text):
        found = entity_rules.extract(word).get("colour")
        if found:
            return str(found[0]), word.lower()
    return None


def item_words(text: str, language: str | None = None) -> str:
    """The product words of a message, at most three, lower case (empty when none)."""
    found = entity_rules.extract(text, language)
    sizes = {fold(str(s)) for s in found.get("size", [])}
    kept: list[str] = []
    for word in _WORD.findall(text):
        key = fold(word)
        if key in FILLER or key in sizes or any(c.isdigit() for c in key) or len(key) < 2:
            continue
        if entity_rules.extract(word).get("colour"):
            continue
        kept.append(word.lower())
    return " ".join(kept[:3])


# Colour names (nouns) where an adjective would have to agree with the item: the reason says
# "Jacke in Rot", "kurtka, kolor czarny" rather than bending the customer's word.
COLOUR_NAMES: dict[str, dict[str, str]] = {
    "de": {"black": "Schwarz", "white": "Weiß", "red": "Rot", "blue": "Blau", "green": "Grün",
           "yellow": "Gelb", "grey": "Grau", "pink": "Rosa", "brown": "Braun", "beige": "Beige",
           "orange": "Orange", "purple": "Lila", "navy": "Marineblau"},
    "fr": {"black": "noir", "white": "blanc", "red": "rouge", "blue": "bleu", "green": "vert",
           "yellow": "jaune", "grey": "gris", "pink": "rose", "brown": "marron", "beige": "beige",
           "orange": "orange", "purple": "violet", "navy": "bleu marine"},
    "es": {"black": "negro", "white": "blanco", "red": "rojo", "blue": "azul", "green": "verde",
           "yellow": "amarillo", "grey": "gris", "pink": "rosa", "brown": "marrón",
           "beige": "beige", "orange": "naranja", "purple": "morado", "navy": "azul marino"},
    "it": {"black": "nero", "white": "bianco", "red": "rosso", "blue": "blu", "green": "verde",
           "yellow": "giallo", "grey": "grigio", "pink": "rosa", "brown": "marrone",
           "beige": "beige", "orange": "arancione", "purple": "viola", "navy": "blu navy"},
    "pt": {"black": "preto", "white": "branco", "red": "vermelho", "blue": "azul",
           "green": "verde", "yellow": "amarelo", "grey": "cinzento", "pink": "rosa",
           "brown": "castanho", "beige": "bege", "orange": "laranja", "purple": "roxo",
           "navy": "azul-marinho"},
    "pl": {"black": "czarny", "white": "biały", "red": "czerwony", "blue": "niebieski",
           "green": "zielony", "yellow": "żółty", "grey": "szary", "pink": "różowy",
           "brown": "brązowy", "beige": "beżowy", "orange": "pomarańczowy",
           "purple": "fioletowy", "navy": "granatowy"},
    "ro": {"black": "negru", "white": "alb", "red": "roșu", "blue": "albastru",
           "green": "verde", "yellow": "galben", "grey": "gri", "pink": "roz", "brown": "maro",
           "beige": "bej", "orange": "portocaliu", "purple": "mov", "navy": "bleumarin"},
}  # fmt: skip


def colour_for(language: str, canonical: str, customer_word: str | None) -> str:
    """How the reason names a colour: the customer's own adjective in English and Dutch (it
    agrees with their noun), the colour's name elsewhere."""
    names = COLOUR_NAMES.get(language)
    if names is not None:
        return names.get(canonical, customer_word or canonical)
    return customer_word or canonical
