"""Text normalisation for lexical search: one function for documents and queries alike.

Case and accents fold away (``Écharpe`` → ``echarpe``, ``Größe`` → ``grosse``), plurals fold to a
common form (``dresses``/``dress``, ``jurken``/``jurk``, ``shoes``/``shoe``), and colour words of
the shop's likely languages map to one English name (``rood``, ``rode``, ``rot``, ``rouge`` →
``red``) so a Dutch query finds an English-tagged colour and back.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

_SPLIT = re.compile(r"[^\w]+|_")
_SPECIAL = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "\u0131": "i", "þ": "th"}
)

COLOURS: Final[dict[str, str]] = {}
for _canonical, _words in {
    "black": "black zwart zwarte schwarz schwarze schwarzes schwarzer schwarzen noir noire "
    "noirs noires nero nera neri nere negro negra negros negras preto preta pretos pretas "
    "czarny czarna czarne negru neagra",
    "white": "white wit witte weiss weisse weisses weisser weissen blanc blanche blancs "
    "blanches bianco bianca bianchi bianche blanco blanca blancos blancas branco branca "
    "bialy biala biale alb alba offwhite ecru",
    "grey": "grey gray grijs grijze grau graue graues grauer grauen gris grise grigio grigia "
    "cinza szary szara szare gri antraciet anthracite",
    "blue": "blue blauw blauwe blau blaue blaues blauer blauen bleu bleue bleus azul azules "
    "blu azzurro azzurra niebieski niebieska niebieskie albastru albastra",
    "navy": "navy marine marineblauw marinblau",
    "red": "red rood rode rot rote rotes roter roten rouge rouges rosso rossa rossi rosse rojo "
    "roja rojos rojas vermelho vermelha czerwony czerwona czerwone rosu rosie",
    "green": "green groen groene grun grune grunes gruner grunen gruen vert verte verts "
    "vertes verde verdi verdes zielony zielona zielone",
    "yellow": "yellow geel gele gelb gelbe gelbes gelber jaune giallo gialla amarillo "
    "amarilla amarelo amarela zolty zolta zolte galben",
    "orange": "orange oranje arancione naranja laranja pomaranczowy portocaliu",
    "pink": "pink roze rosa rozowy rozowa roz",
    "purple": "purple paars paarse lila violet viola fioletowy mov",
    "brown": "brown bruin bruine braun braune braunes brun brune marron marrom brazowy "
    "brazowa maro",
    "beige": "beige bezowy bej",
}.items():
    for _word in _words.split():
        COLOURS[_word] = _canonical

STOPWORDS: Final = frozenset(
    """a an and the for with of in on to by at or
    de het een en voor met van in op te bij of
    der die das ein eine und fur mit von im auf zu aus
    le la les un une et pour avec du des en au aux
    el los las y con del para il lo gli di da e per em com do dos na nas
    w z ze i dla cu si""".split()  # noqa: SIM905
)


@lru_cache(maxsize=100_000)
def fold(text: str) -> str:
    """Lower-case, accent-free, compatibility-normalised text."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=500_000)
def stem(token: str) -> str:
    """Fold plural endings (English and Dutch, conservatively); both sides use the same rule."""
    if token.isdigit() or len(token) <= 3:
        return token
    if token.endswith("sses"):
        return token[:-2]
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith("ss") or token.endswith("us") or token.endswith("is"):
        return token
    if token.endswith("s"):
        return token[:-1]
    if token.endswith("en") and len(token) > 5:
        return token[:-2]
    return token


def term(token: str) -> str:
    """The indexed form of one folded token."""
    return COLOURS.get(token) or stem(token)


def tokens(text: str | None) -> list[str]:
    """Folded words of ``text`` (no stemming): ``"Größe M/L"`` → ``["grosse", "m", "l"]``."""
    if not text:
        return []
    return [t for t in _SPLIT.split(fold(text)) if t]


@lru_cache(maxsize=50_000)
def _terms(text: str) -> tuple[str, ...]:
    return tuple(term(t) for t in tokens(text))


def terms(text: str | None) -> tuple[str, ...]:
    """Indexed forms of the words of ``text`` (cached: feeds repeat brands and descriptions)."""
    return _terms(text) if text else ()


_COMPOUND = re.compile(r"\w+(?:-\w+)+")


def compounds(text: str | None) -> list[str]:
    """Hyphenated words joined, as a shopper may also type them: ``T-shirt`` → ``tshirt``."""
    if not text or "-" not in text:
        return []
    return [fold(m.group()).replace("-", "").replace("_", "") for m in _COMPOUND.finditer(text)]


def colour_key(value: str | None) -> list[str]:
    """Canonical colour names of a variant's colour: ``"Zwart/Wit"`` → ``["black", "white"]``."""
    return list(_colour_key(value)) if value else []


@lru_cache(maxsize=10_000)
def _colour_key(value: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in re.split(r"[/,&+]| and | en ", fold(value)):
        name = part.strip()
        if not name:
            continue
        words = name.split()
        canonical = COLOURS.get(name) or next((COLOURS[w] for w in words if w in COLOURS), None)
        key = canonical or name
        if key not in out:
            out.append(key)
    return tuple(out)


@lru_cache(maxsize=10_000)
def size_key(value: str | None) -> str | None:
    if not value:
        return None
    return " ".join(fold(value).split()).upper()


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (adjacent swaps count 1), or ``limit + 1`` if larger."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        best = current[0]
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def deletes(word: str) -> set[str]:
    """All strings one deletion away (the SymSpell trick for finding typo candidates)."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}
