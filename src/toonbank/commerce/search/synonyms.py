"""Cross-lingual fashion vocabulary: words that name the same kind of product or material.

A query word in any of these groups also matches the other words of its group that the
catalog contains, so ``Hose`` (de), ``pantalon`` (fr) or ``spodnie`` (pl) find products titled
"trousers" or "broek", whatever languages the shop imported. Groups are symmetric and cover
en, nl, de, fr, es, it, pt, pl and ro; words are written as a shopper types them (plurals that
the stemmer does not fold are listed too). Words the table does not know fall back to the
embedding model (``semantic.py``).

Ambiguous words sit in the group a shop most likely means: ``vest`` is Dutch for cardigan,
``robe`` French for dress, ``pull`` French for sweater.
"""

from __future__ import annotations

from typing import Final

from toonbank.commerce.search.text import term, tokens

_GROUPS: Final = (
    # garments
    "dress dresses gown jurk kleid kleider robe vestido vestidos vestito vestiti abito abiti "
    "sukienka sukienki suknia rochie rochii",
    "skirt rok rokken rock rocke jupe falda faldas gonna gonne saia saias spodnica spodnice "
    "fusta fuste",
    "blouse bluse blusen blusa blusas camicetta bluzka bluzki bluza",
    "shirt overhemd hemd hemden chemise camisa camisas camicia camicie koszula koszule "
    "camasa camasi",
    "tshirt tee camiseta camisetas maglietta magliette tricou tricouri koszulka koszulki",
    "sweater jumper pullover trui truien pull jersey sueter maglione maglioni sweter swetry "
    "camisola pulover",
    "cardigan vest vestje strickjacke gilet cardigans rebeca cardiga kardigan",
    "jacket blazer colbert jasje jack jacke jacken sakko veste chaqueta chaquetas chamarra "
    "giacca giacche giubbotto jaqueta kurtka kurtki marynarka jacheta geaca",
    "coat overcoat mantel mantels manteau manteaux abrigo abrigos cappotto cappotti casaco "
    "plaszcz palton parka",
    "trousers pants broek broeken hose hosen pantalon pantalons pantalones pantaloni calca "
    "calcas spodnie chinos",
    "jeans spijkerbroek vaqueros vaquero jeansy blugi",
    "shorts bermuda bermudas pantaloncini szorty",
    "shoe schoen schoenen schuh schuhe chaussure zapato zapatos scarpa scarpe sapato sapatos "
    "buty obuwie pantofi incaltaminte footwear schoeisel",
    "sneaker trainer sportschoen turnschuh turnschuhe basket baskets zapatilla zapatillas "
    "tenis tenisowki adidasi",
    "boot laars laarzen stiefel stiefeln botte bottes bota botas stivale stivali kozaki "
    "botki cizme ghete",
    "loafer instapper instappers mocassin mocassins slipper mocasin mocasines mocassino "
    "mocassini mokasyny mokasyn",
    "scarf sjaal schal echarpe bufanda sciarpa cachecol szal esarfa fular",
    "beanie hat muts mutze hoed hut bonnet chapeau gorro sombrero cappello berretto chapeu "
    "czapka caciula palarie",
    "bag handbag tote tas handtas shopper tasche handtasche sac bolso bolsa borsa torba "
    "torebka geanta",
    "belt riem ceintuur gurtel ceinture cinturon cintura cinto pasek curea",
    # materials
    "leather leer leren leder ledern cuir cuero pelle couro skora skorzany piele",
    "wool wol wollen wolle laine lana welna welniany",
    "linen linnen leinen lin lino linho lniany",
    "cotton katoen katoenen baumwolle coton algodon cotone algodao bawelna bumbac",
    "cashmere kasjmier kaschmir cachemire cachemira caxemira kaszmir casmir",
    "suede suede wildleder daim ante camoscio camurca zamsz",
)


def _build() -> dict[str, frozenset[str]]:
    table: dict[str, frozenset[str]] = {}
    for line in _GROUPS:
        group = frozenset(term(t) for word in line.split() for t in tokens(word))
        for name in group:
            table[name] = table.get(name, frozenset()) | group
    return table


SYNONYMS: Final[dict[str, frozenset[str]]] = _build()
"""Indexed form of a word → the indexed forms of every word of its group (itself included)."""

WORDS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys(word for line in _GROUPS for word in line.split())
)
"""Every word of the table as written (the embedding model's anchors)."""


def related(name: str) -> frozenset[str]:
    """The group of the indexed form ``name`` (empty when the table does not know it)."""
    return SYNONYMS.get(name, frozenset())
