"""The built-in intent taxonomy. Labels are part of the public contract: never rename one."""

from __future__ import annotations

from typing import Final

OUT_OF_SCOPE: Final = "other"

BUILTIN_INTENTS: Final[dict[str, str]] = {
    "greeting": "Opens the conversation: hello, good morning.",
    "goodbye": "Closes it, thanks included: bye, thank you, that's all.",
    "product_search": "Looks for products: 'do you have black sneakers in 42?'.",
    "product_question": "Asks about a product: material, fit, stock, dimensions.",
    "add_to_cart": "Puts something in the cart: 'I'll take the blue one in M'.",
    "checkout": "Wants to pay / place the order now.",
    "order_status": "Where is my order / parcel, tracking.",
    "change_order": "Changes a placed order: address, size, items.",
    "cancel_order": "Cancels a placed order.",
    "return_request": "Wants to return or exchange an item.",
    "refund_status": "Asks about a refund's progress.",
    "delivery_info": "Shipping costs, countries, delivery times.",
    "store_info": "Opening hours, shop address, contact details.",
    "payment_problem": "Payment failed, card declined, charged twice.",
    "human_handover": "Asks for a person / agent.",
    "complaint": "Expresses dissatisfaction: broken product, bad service.",
    "opt_out": "Wants no more messages: stop, unsubscribe.",
    OUT_OF_SCOPE: "Out of scope: anything the shop assistant does not handle.",
}

LANGUAGES: Final = ("en", "nl", "de", "fr", "es", "it", "pt", "pl", "ro")
