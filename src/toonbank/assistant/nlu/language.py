"""Language identification: lingua for real sentences, a lexicon for very short ones.

Short chat messages ("hoi", "merci", "thx", "dzieki") defeat statistical detectors, so
messages of up to three words are first looked up in a small lexicon of words that are
frequent in shop chats and typical of one language (written without accents, as people
type them). A conversation's language sticks: a new message only switches it when the
detector is clearly confident in another language.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toonbank.assistant.nlu.text import tokens
from toonbank.assistant.taxonomy import LANGUAGES

if TYPE_CHECKING:
    from lingua import LanguageDetector

# Words that, typed alone or nearly alone, point at one language. Ambiguous words
# (``salut`` is French and Romanian, ``stop`` is everywhere) are left out on purpose.
_LEXICON: dict[str, str] = {
    "en": "hi hello helo hey hiya thanks thank thx ty bye cya goodbye cheers please pls plz "
    "yes yeah yep nope the my where what whats how when why you your u r do does dont "
    "want need cheap human agent someone person refund return checkout shipping "
    "delivery order cart size opening hours unsubscribe morning evening afternoon "
    "sure great wrong address store is it this that with and for of to any got worst "
    "shop ever cancel opt out",
    "nl": "hoi hallo hoe doei dag bedankt dankjewel dankuwel dank je wel graag aub "
    "alsjeblieft goedemorgen goedemiddag goedenavond goeiemorgen waar wat wanneer "
    "mijn mn jullie bestelling pakket pakketje winkelwagen mandje afrekenen betalen "
    "betaling retour retourneren terugsturen ruilen terugbetaling verzendkosten "
    "bezorgen levering openingstijden winkel medewerker mens klantenservice "
    "uitschrijven afmelden kapot slechte maat heb nog niet niks geen ik zoek hebben "
    "het een van voor met ook berichten",
    "de": "hallo moin servus tschuss tschus danke bitte guten morgen abend tag gruss gott "
    "wo ist meine mein bestellung paket warenkorb korb kasse bezahlen zahlung "
    "ruckgabe rucksendung umtausch erstattung versand versandkosten liefert lieferung "
    "offnungszeiten laden geschaft mitarbeiter mensch kundenservice abmelden "
    "abbestellen keine nachrichten mehr kaputt grosse ich suche habt ihr gibt nicht "
    "noch und der die das zuruck stornieren",
    "fr": "bonjour bonsoir coucou slt merci bcp revoir bientot svp stp oui non ou est ma "
    "mon commande colis panier payer paiement rembourse remboursement livraison frais "
    "port horaires magasin conseiller humain quelqu desinscription arretez envoyez "
    "plus nul abime taille je cherche vous avez des les une le la et pour avec",
    "es": "hola holaa buenas buenos dias gracias adios vale porfa donde esta mi pedido "
    "paquete carrito cesta pagar pago devolucion devolver reembolso envio envios "
    "gastos tienda horario persona agente baja mensajes roto talla busco teneis "
    "quiero unos unas por favor con el los las y cerrais hora que reembolsais "
    "cancelar mete en al mochila",
    "it": "ciao buongiorno buonasera salve grazie arrivederci dove il mio ordine pacco "
    "carrello pagamento reso rendere rimborso spedizione spese consegna negozio orari "
    "apertura operatore qualcuno basta messaggi cancellami rotto taglia cerco avete "
    "vorrei voglio per favore non ancora che di spedite quando mi rimborsate al qual",
    "pt": "ola oi bom boa dia noite tarde obrigado obrigada valeu adeus tchau onde minha "
    "meu encomenda pedido carrinho pagar pagamento devolucao devolver trocar "
    "reembolso envio portes entrega loja morada horario atendente humano alguem "
    "mensagens estragado tamanho procuro tem queria quero nao ainda recebi voces por "
    "favor que quando cancelar qual capital mochila prova",
    "pl": "czesc dzien dobry witam witajcie hej dziekuje dzieki pa gdzie jest moja moje "
    "zamowienie paczka paczke koszyka kasy zaplacic platnosc zwrot zwrocic pieniedzy "
    "wysylki dostawa sklep sklepu godziny otwarcia konsultant czlowiek czlowiekiem "
    "wypisz wiadomosci uszkodzony rozmiar szukam macie chce nie jeszcze prosze czy",
    "ro": "buna ziua seara salutare neata multumesc mersi revedere unde este comanda "
    "coletul meu mea cos plata platesc retur returnez rambursare banii inapoi livrare "
    "livrati transport magazin magazinului programul operator cineva mesaje "
    "dezabonare stricat marimea caut aveti vreau nu inca primit va rog sa dezabonati "
    "ma imi recomanzi ceasul rucsacul",
}
_WORD_LANGUAGES: dict[str, set[str]] = {}
for _language, _words in _LEXICON.items():
    for _word in _words.split():
        _WORD_LANGUAGES.setdefault(_word, set()).add(_language)

SHORT_WORDS = 3
STICKY_WORDS = 2  # messages this short never switch a conversation's language
NOISE = 0.25  # below this the detector is guessing
SWITCH_CONFIDENCE = 0.80  # a sticky language only yields to a detector this sure of another


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    language: str
    confidence: float
    source: str  # "lexicon", "detector", "sticky" or "default"


def _lexicon_vote(words: list[str], allowed: Iterable[str]) -> tuple[str, float] | None:
    """The language most words point to, if one wins outright."""
    allowed = set(allowed)
    scores: dict[str, float] = {}
    for word in words:
        langs = _WORD_LANGUAGES.get(word, set()) & allowed
        for language in langs:
            scores[language] = scores.get(language, 0.0) + 1.0 / len(langs)
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    best, score = ranked[0]
    return best, min(0.95, 0.6 + 0.35 * score / max(len(words), 1))


class LanguageIdentifier:
    """Identifies one of ``languages`` (ISO 639-1 codes lingua knows)."""

    def __init__(self, languages: Iterable[str] = LANGUAGES, default: str = "en") -> None:
        self.languages = tuple(languages)
        self.default = default
        self._detector: LanguageDetector | None = None
        self._lock = threading.Lock()

    def _lingua(self) -> LanguageDetector:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                    wanted = [
                        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                        for code in self.languages
                    ]
                    self._detector = LanguageDetectorBuilder.from_languages(*wanted).build()
        return self._detector

    def detect(self, text: str) -> dict[str, float]:
        """Lingua's confidence per language (sums to 1), best first."""
        values = self._lingua().compute_language_confidence_values(text)
        return {v.language.iso_code_639_1.name.lower(): float(v.value) for v in values}

    def identify(self, text: str, previous: str | None = None) -> LanguageGuess:
        words = tokens(text)
        if not words:
            return LanguageGuess(previous or self.default, 0.0, "sticky" if previous else "default")
        vote = _lexicon_vote(words, self.languages) if len(words) <= SHORT_WORDS else None
        if vote is not None:
            language, confidence = vote
            if previous and previous != language and len(words) <= STICKY_WORDS:
                return LanguageGuess(previous, confidence, "sticky")
            return LanguageGuess(language, confidence, "lexicon")
        scores = self.detect(text)
        if not scores:
            return LanguageGuess(previous or self.default, 0.0, "default")
        language, confidence = next(iter(scores.items()))
        if len(words) <= SHORT_WORDS or confidence < 0.5:
            # Weak detector signal: let the lexicon break the tie if it can.
            vote = _lexicon_vote(words, self.languages)
            if vote is not None and vote[0] != language:
                language, confidence = vote[0], max(confidence, 0.5)
            elif vote is None and confidence < NOISE and len(words) == 1 and previous is None:
                # A lone word the detector cannot place: the shop's default language.
                return LanguageGuess(self.default, confidence, "default")
        if previous and previous != language:
            agrees = _lexicon_vote(words, self.languages)
            clear = confidence >= SWITCH_CONFIDENCE or (
                agrees is not None and agrees[0] == language and confidence >= 0.5
            )
            if len(words) <= STICKY_WORDS or not clear:
                return LanguageGuess(previous, scores.get(previous, 0.0), "sticky")
        return LanguageGuess(language, confidence, "detector")
