"""Fact-based replies in the customers' languages and the questions that call for them."""

from __future__ import annotations

from typing import Final

SHIPPED: Final[dict[str, str]] = {
    "en": "Your order {{order.number}} was shipped with {{order.carrier}}, tracking number "
    "{{order.tracking_number}}.",
    "nl": "Je bestelling {{order.number}} is verzonden met {{order.carrier}}, trackingnummer "
    "{{order.tracking_number}}.",
    "de": "Deine Bestellung {{order.number}} wurde mit {{order.carrier}} verschickt, "
    "Sendungsnummer {{order.tracking_number}}.",
    "fr": "Votre commande {{order.number}} a été expédiée avec {{order.carrier}}, numéro de "
    "suivi {{order.tracking_number}}.",
    "es": "Tu pedido {{order.number}} se ha enviado con {{order.carrier}}, número de "
    "seguimiento {{order.tracking_number}}.",
    "it": "Il tuo ordine {{order.number}} è stato spedito con {{order.carrier}}, numero di "
    "tracciamento {{order.tracking_number}}.",
    "pt": "A sua encomenda {{order.number}} foi enviada com {{order.carrier}}, número de "
    "seguimento {{order.tracking_number}}.",
    "pl": "Twoje zamówienie {{order.number}} zostało wysłane przez {{order.carrier}}, numer "
    "przesyłki {{order.tracking_number}}.",
    "ro": "Comanda ta {{order.number}} a fost expediată cu {{order.carrier}}, număr de "
    "urmărire {{order.tracking_number}}.",
}
ORDER_STATUS: Final[dict[str, str]] = {
    "en": "Your order {{order.number}} has the status: {{order.status}}.",
    "nl": "Je bestelling {{order.number}} heeft de status: {{order.status}}.",
    "de": "Deine Bestellung {{order.number}} hat den Status: {{order.status}}.",
    "fr": "Votre commande {{order.number}} a le statut : {{order.status}}.",
    "es": "Tu pedido {{order.number}} tiene el estado: {{order.status}}.",
    "it": "Il tuo ordine {{order.number}} ha lo stato: {{order.status}}.",
    "pt": "A sua encomenda {{order.number}} tem o estado: {{order.status}}.",
    "pl": "Twoje zamówienie {{order.number}} ma status: {{order.status}}.",
    "ro": "Comanda ta {{order.number}} are statusul: {{order.status}}.",
}
CART: Final[dict[str, str]] = {
    "en": "Your cart has {{cart.items}} item(s), {{cart.total}} in total.",
    "nl": "Je winkelmandje bevat {{cart.items}} artikel(en), in totaal {{cart.total}}.",
    "de": "Dein Warenkorb enthält {{cart.items}} Artikel, insgesamt {{cart.total}}.",
    "fr": "Votre panier contient {{cart.items}} article(s), {{cart.total}} au total.",
    "es": "Tu carrito tiene {{cart.items}} artículo(s), {{cart.total}} en total.",
    "it": "Il tuo carrello contiene {{cart.items}} articolo/i, {{cart.total}} in totale.",
    "pt": "O seu carrinho tem {{cart.items}} artigo(s), {{cart.total}} no total.",
    "pl": "W Twoim koszyku jest {{cart.items}} produkt(ów), razem {{cart.total}}.",
    "ro": "Coșul tău are {{cart.items}} produs(e), în total {{cart.total}}.",
}
ORDER_QUESTIONS: Final = (
    "Where is my order?",
    "When will my parcel arrive?",
    "Can you give me the tracking number?",
    "Waar is mijn bestelling?",
    "Wanneer komt mijn pakket?",
    "Wo ist meine Bestellung?",
    "Wann kommt mein Paket an?",
    "Où est ma commande ?",
    "Quand mon colis arrivera-t-il ?",
    "¿Dónde está mi pedido?",
    "¿Cuándo llega mi paquete?",
    "Dov'è il mio ordine?",
    "Onde está a minha encomenda?",
    "Gdzie jest moje zamówienie?",
    "Unde este comanda mea?",
)
CART_QUESTIONS: Final = (
    "What is in my cart?",
    "How much is my basket?",
    "Wat zit er in mijn winkelmandje?",
    "Was ist in meinem Warenkorb?",
    "Qu'est-ce qu'il y a dans mon panier ?",
    "¿Qué hay en mi carrito?",
    "Cosa c'è nel mio carrello?",
    "O que está no meu carrinho?",
    "Co jest w moim koszyku?",
    "Ce am în coș?",
)
