"""Recommendations with a reason the shopper can read, and an audit of the signals used.

``recommend(db, search, workspace_id, RecommendationRequest(...))`` answers with groups of
products, each with a reason in the shopper's language:

- **match** — the request's query and filters, completed with the contact's stated preferences
  (``contacts.attributes["preferences"]``: ``size``/``sizes``, ``colours``, ``max_price``) where
  the request leaves them open: "You asked for blue blouses in size M under €50, so here are…".
  When the preferences leave nothing, they are dropped again (and the audit says so).
- **similar** — for a product (the request's, else the best match): same category, close in
  price, sharing colours or brand: "Similar to …".
- **complete** — complete-the-look / cross-sell from complementary categories (a dress → boots,
  bags, belts, scarves): "Goes well with …"; without a request, from the contact's last
  purchase: "Because you bought …".
- **preferences** — without a request or history, what the stated preferences select.

Products the contact already bought are left out. Every answer is stored in the
``recommendations`` table with the request, the signals (preferences applied or dropped,
purchases, anchor product, relaxed matching …), the products and the reasons; ``list_audit``
and ``get_audit`` read them back. Candidates come from the ``SearchEngine`` port, so the same
filters, stock and languages apply as in search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.commerce.money import Money
from toonbank.commerce.recommend_texts import describe, language_of, reason
from toonbank.commerce.search.port import ProductHit, SearchEngine, SearchQuery
from toonbank.commerce.search.text import COLOURS, colour_key, terms, tokens
from toonbank.db import Database
from toonbank.models import Contact, Order, OrderLine, Product, ProductVariant, Recommendation

BOUGHT: Final = ("paid", "fulfilled", "shipped", "delivered")
"""Order states that count as a purchase (not pending, cancelled, returned or refunded)."""
HISTORY_DEPTH = 50
SIMILAR_POOL = 60
PRICE_WINDOW = 0.4
"""Similar items cost at most this share more or less than the anchor (when enough do)."""

_COMPLEMENTS_BY_LEAF: Final = {
    "dresses": ("Boots", "Bags", "Belts", "Scarves"),
    "skirts": ("Tops", "Knitwear", "Boots", "Belts"),
    "tops": ("Skirts", "Trousers", "Jeans"),
    "blouses": ("Skirts", "Trousers", "Jeans"),
    "shirts": ("Trousers", "Jeans", "Belts", "Loafers"),
    "t-shirts": ("Jeans", "Shorts", "Sneakers", "Jackets"),
    "knitwear": ("Jeans", "Skirts", "Scarves", "Trousers"),
    "jackets": ("Jeans", "T-shirts", "Sneakers", "Scarves"),
    "coats": ("Scarves", "Hats", "Boots"),
    "trousers": ("Shirts", "Knitwear", "Belts", "Loafers"),
    "jeans": ("T-shirts", "Knitwear", "Sneakers", "Belts"),
    "shorts": ("T-shirts", "Sneakers", "Shirts"),
    "sneakers": ("Jeans", "T-shirts", "Jackets"),
    "boots": ("Dresses", "Jeans", "Coats"),
    "loafers": ("Trousers", "Shirts", "Belts"),
    "scarves": ("Coats", "Hats", "Jackets"),
    "hats": ("Scarves", "Coats"),
    "bags": ("Dresses", "Belts", "Scarves"),
    "belts": ("Jeans", "Trousers"),
}
COMPLEMENTS: Final[dict[str, tuple[str, ...]]] = {
    key: value for leaf, value in _COMPLEMENTS_BY_LEAF.items() for key in terms(leaf)[-1:]
}
"""Indexed form of a category's last word → categories that complete the look."""


@dataclass(frozen=True)
class RecommendationRequest:
    """What to recommend for. Every field is optional; with none, the contact's history and
    preferences decide."""

    contact_id: str | None = None
    query: SearchQuery | None = None
    product_id: str | None = None
    language: str | None = None
    limit: int = 4
    """Products per group."""


@dataclass
class RecommendationGroup:
    kind: str
    reason: str
    items: list[ProductHit]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "reason": self.reason,
            "items": [item.to_json() for item in self.items],
        }


@dataclass
class Recommendations:
    id: str
    language: str
    groups: list[RecommendationGroup]
    signals: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "language": self.language,
            "groups": [group.to_json() for group in self.groups],
            "signals": self.signals,
        }


class UnknownContact(LookupError):
    pass


class UnknownProduct(LookupError):
    pass


@dataclass
class _Preferences:
    sizes: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    max_price: Decimal | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Purchase:
    product_id: str
    title: str
    category: str | None


@dataclass
class _Anchor:
    product_id: str
    title: str
    category: str | None
    brand: str | None
    price: int
    currency: str
    colours: frozenset[str]
    source: str


def _preferences(attributes: Mapping[str, Any] | None) -> _Preferences:
    raw = (attributes or {}).get("preferences")
    if not isinstance(raw, Mapping):
        return _Preferences()

    def strings(*keys: str) -> tuple[str, ...]:
        out: list[str] = []
        for key in keys:
            value = raw.get(key)
            values = value if isinstance(value, list) else [value]
            out += [str(v)[:40] for v in values if isinstance(v, str | int) and str(v).strip()]
        return tuple(dict.fromkeys(out))[:5]

    price: Decimal | None = None
    try:
        if raw.get("max_price") is not None:
            price = Decimal(str(raw["max_price"]))
    except InvalidOperation:
        price = None
    return _Preferences(
        sizes=strings("size", "sizes"),
        colours=strings("colours", "colors", "colour", "color"),
        max_price=price if price is not None and price > 0 else None,
        raw=dict(raw),
    )


async def _history(session: AsyncSession, workspace_id: str, contact_id: str) -> list[_Purchase]:
    """Products the contact bought, most recent first (one entry per product)."""
    rows = await session.execute(
        select(ProductVariant.product_id, Product.title, Product.category)
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .join(ProductVariant, ProductVariant.id == OrderLine.variant_id)
        .join(Product, Product.id == ProductVariant.product_id)
        .where(
            Order.workspace_id == workspace_id,
            Order.contact_id == contact_id,
            Order.status.in_(BOUGHT),
            OrderLine.workspace_id == workspace_id,
        )
        .order_by(Order.created_at.desc(), OrderLine.position)
        .limit(HISTORY_DEPTH)
    )
    seen: dict[str, _Purchase] = {}
    for product_id, title, category in rows:
        seen.setdefault(product_id, _Purchase(product_id, title, category))
    return list(seen.values())


async def _anchor(
    session: AsyncSession, workspace_id: str, product_id: str, language: str, source: str
) -> _Anchor | None:
    product = await session.scalar(
        select(Product).where(Product.workspace_id == workspace_id, Product.id == product_id)
    )
    if product is None:
        return None
    variants = (
        await session.execute(
            select(
                ProductVariant.colour,
                ProductVariant.price_minor,
                ProductVariant.sale_price_minor,
                ProductVariant.currency,
            ).where(
                ProductVariant.workspace_id == workspace_id,
                ProductVariant.product_id == product_id,
                ProductVariant.published.is_(True),
            )
        )
    ).all()
    if not variants:
        return None
    prices = [sale if sale is not None else price for _c, price, sale, _cur in variants]
    translated = (product.translations or {}).get(language)
    title = translated.get("title") if isinstance(translated, Mapping) else None
    return _Anchor(
        product_id=product.id,
        title=str(title or product.title),
        category=product.category,
        brand=product.brand,
        price=min(prices),
        currency=variants[0][3],
        colours=frozenset(c for row in variants for c in colour_key(row[0])),
        source=source,
    )


def _from_hit(hit: ProductHit, source: str) -> _Anchor:
    return _Anchor(
        product_id=hit.id,
        title=hit.title,
        category=hit.category,
        brand=hit.brand,
        price=hit.price_from.minor,
        currency=hit.price_from.currency,
        colours=frozenset(c for v in hit.variants for c in colour_key(v.colour)),
        source=source,
    )


class _Recommender:
    def __init__(
        self,
        search: SearchEngine,
        workspace_id: str,
        request: RecommendationRequest,
        language: str,
        preferences: _Preferences,
        bought: set[str],
    ) -> None:
        self.search = search
        self.workspace_id = workspace_id
        self.request = request
        self.language = language
        self.preferences = preferences
        self.excluded = set(bought)
        self.signals: dict[str, Any] = {}

    async def _find(self, query: SearchQuery, limit: int) -> list[ProductHit]:
        wanted = replace(query, limit=limit + len(self.excluded), offset=0, language=self.language)
        result = await self.search.search(self.workspace_id, wanted)
        return [hit for hit in result.hits if hit.id not in self.excluded][:limit]

    async def match(self, query: SearchQuery) -> RecommendationGroup | None:
        said_colour = any(w in COLOURS for w in tokens(query.text))
        applied: dict[str, Any] = {}
        if not query.sizes and self.preferences.sizes:
            applied["sizes"] = self.preferences.sizes
        if not query.colours and not said_colour and self.preferences.colours:
            applied["colours"] = self.preferences.colours
        if query.price_max is None and self.preferences.max_price is not None:
            applied["price_max"] = self.preferences.max_price
        wanted = replace(query, **applied)
        limit = self.request.limit
        result = await self.search.search(
            self.workspace_id,
            replace(wanted, limit=limit + len(self.excluded), offset=0, language=self.language),
        )
        if applied and result.total == 0:
            self.signals["dropped_preferences"] = sorted(applied)
            applied = {}
            wanted = query
            result = await self.search.search(
                self.workspace_id,
                replace(query, limit=limit + len(self.excluded), offset=0, language=self.language),
            )
        self.signals["applied_preferences"] = {
            k: list(v) if isinstance(v, tuple) else str(v) for k, v in applied.items()
        }
        self.signals["match"] = {
            "total": result.total,
            "relaxed": result.relaxed,
            "corrections": result.corrections,
            "interpreted": result.interpreted,
        }
        hits = [hit for hit in result.hits if hit.id not in self.excluded][:limit]
        if not hits:
            return None
        currency = wanted.currency or hits[0].price_from.currency
        what = describe(
            self.language,
            text=wanted.text,
            colours=wanted.colours,
            colours_said=said_colour,
            sizes=wanted.sizes,
            price_min=Money.of(wanted.price_min, currency) if wanted.price_min else None,
            price_max=Money.of(wanted.price_max, currency) if wanted.price_max else None,
            in_stock=wanted.in_stock,
        )
        kind = "match_relaxed" if result.relaxed else "match"
        return RecommendationGroup("match", reason(kind, self.language, what=what), hits)

    async def similar(self, anchor: _Anchor) -> RecommendationGroup | None:
        if not anchor.category:
            return None
        self.excluded.add(anchor.product_id)
        query = SearchQuery(category=anchor.category, sizes=self.preferences.sizes)
        pool = await self._find(query, SIMILAR_POOL)
        if not pool and self.preferences.sizes:
            pool = await self._find(replace(query, sizes=()), SIMILAR_POOL)
        pool = [hit for hit in pool if hit.price_from.currency == anchor.currency]
        if not pool:
            return None

        def closeness(hit: ProductHit) -> float:
            return abs(hit.price_from.minor - anchor.price) / max(anchor.price, 1)

        near = [hit for hit in pool if closeness(hit) <= PRICE_WINDOW]
        candidates = near if len(near) >= self.request.limit else pool

        def score(hit: ProductHit) -> tuple[bool, float, str]:
            """Within the price window first; then closeness in price, a shared colour, the
            same brand."""
            colours = {c for v in hit.variants for c in colour_key(v.colour)}
            shared = 0.5 if colours & anchor.colours else 0.0
            brand = 0.25 if hit.brand and hit.brand == anchor.brand else 0.0
            value = 1 - min(closeness(hit), 1.0) + shared + brand
            return (closeness(hit) > PRICE_WINDOW, -value, hit.id)

        items = sorted(candidates, key=score)[: self.request.limit]
        self.signals["similar"] = {
            "anchor": anchor.product_id,
            "category": anchor.category,
            "price_window": PRICE_WINDOW,
            "within_window": len(near),
        }
        text = reason("similar", self.language, title=anchor.title)
        return RecommendationGroup("similar", text, items)

    async def complete(self, anchor: _Anchor, kind: str) -> RecommendationGroup | None:
        leaf = (anchor.category or "").split(">")[-1]
        key = next((t for t in reversed(terms(leaf)) if t in COMPLEMENTS), None)
        if key is None:
            return None
        self.excluded.add(anchor.product_id)
        categories = COMPLEMENTS[key]
        per_category = max(1, -(-self.request.limit // len(categories)))
        items: list[ProductHit] = []
        for category in categories:
            query = SearchQuery(category=category, colours=self.preferences.colours, in_stock=True)
            found = await self._find(query, per_category)
            if not found and self.preferences.colours:
                found = await self._find(replace(query, colours=()), per_category)
            for hit in found:
                self.excluded.add(hit.id)
            items += found
        if not items:
            return None
        self.signals["complete"] = {
            "anchor": anchor.product_id,
            "anchor_source": anchor.source,
            "complements": list(categories),
        }
        text = reason(kind, self.language, title=anchor.title)
        return RecommendationGroup(kind, text, items[: self.request.limit])

    async def for_preferences(self) -> RecommendationGroup | None:
        p = self.preferences
        if not (p.sizes or p.colours or p.max_price):
            return None
        query = SearchQuery(sizes=p.sizes, colours=p.colours, price_max=p.max_price, in_stock=True)
        items = await self._find(query, self.request.limit)
        if not items:
            return None
        currency = items[0].price_from.currency
        what = describe(
            self.language,
            colours=p.colours,
            sizes=p.sizes,
            price_max=Money.of(p.max_price, currency) if p.max_price else None,
        )
        return RecommendationGroup(
            "preferences", reason("preferences", self.language, what=what), items
        )


async def recommend(
    db: Database, search: SearchEngine, workspace_id: str, request: RecommendationRequest
) -> Recommendations:
    """Recommend for ``request`` and store the audit record (its id is the answer's id).

    Raises ``UnknownContact`` / ``UnknownProduct`` for ids that are not in the workspace."""
    contact: Contact | None = None
    history: list[_Purchase] = []
    async with db.session() as session:
        if request.contact_id:
            contact = await session.scalar(
                select(Contact).where(
                    Contact.workspace_id == workspace_id, Contact.id == request.contact_id
                )
            )
            if contact is None:
                raise UnknownContact(request.contact_id)
            history = await _history(session, workspace_id, contact.id)
        language = language_of(request.language or (contact.locale if contact else None))
        anchor = None
        if request.product_id:
            anchor = await _anchor(
                session, workspace_id, request.product_id, language, source="request"
            )
            if anchor is None:
                raise UnknownProduct(request.product_id)
        elif history and request.query is None:
            anchor = await _anchor(
                session, workspace_id, history[0].product_id, language, "history"
            )
    preferences = _preferences(contact.attributes if contact else None)
    bought = {p.product_id for p in history}
    worker = _Recommender(search, workspace_id, request, language, preferences, bought)
    groups: list[RecommendationGroup | None] = []
    if request.query is not None:
        groups.append(await worker.match(request.query))
    if anchor is not None:
        if anchor.source == "request":
            groups.append(await worker.similar(anchor))
            groups.append(await worker.complete(anchor, "complete"))
        else:
            groups.append(await worker.complete(anchor, "history"))
    if request.query is None and anchor is None:
        groups.append(await worker.for_preferences())
    shown = [g for g in groups if g is not None]
    signals = {
        "language": language,
        "preferences": preferences.raw,
        "purchases": {
            "products": [p.product_id for p in history[:10]],
            "categories": sorted({p.category for p in history if p.category})[:10],
            "excluded_as_bought": sorted(bought)[:50],
        },
        "anchor": {"product_id": anchor.product_id, "source": anchor.source} if anchor else None,
        **worker.signals,
    }
    record = Recommendation(
        workspace_id=workspace_id,
        contact_id=contact.id if contact else None,
        language=language,
        request=_request_json(request),
        signals=signals,
        product_ids=[item.id for group in shown for item in group.items],
        reason="\n".join(group.reason for group in shown),
        groups=[
            {"kind": g.kind, "reason": g.reason, "product_ids": [i.id for i in g.items]}
            for g in shown
        ],
    )
    async with db.uow() as uow:
        uow.session.add(record)
        await uow.session.flush()
        record_id = record.id
    return Recommendations(record_id, language, shown, signals)


def _request_json(request: RecommendationRequest) -> dict[str, Any]:
    query = request.query
    return {
        "contact_id": request.contact_id,
        "product_id": request.product_id,
        "language": request.language,
        "limit": request.limit,
        "query": None
        if query is None
        else {
            "text": query.text,
            "colours": list(query.colours),
            "sizes": list(query.sizes),
            "category": query.category,
            "brand": query.brand,
            "price_min": str(query.price_min) if query.price_min is not None else None,
            "price_max": str(query.price_max) if query.price_max is not None else None,
            "currency": query.currency,
            "in_stock": query.in_stock,
        },
    }


def audit_json(row: Recommendation) -> dict[str, Any]:
    return {
        "id": row.id,
        "contact_id": row.contact_id,
        "language": row.language,
        "request": row.request,
        "signals": row.signals,
        "product_ids": row.product_ids,
        "reason": row.reason,
        "groups": row.groups,
        "created_at": row.created_at.isoformat(),
    }


async def list_audit(
    session: AsyncSession,
    workspace_id: str,
    *,
    contact_id: str | None = None,
    limit: int = 50,
) -> Sequence[Recommendation]:
    """Stored recommendations of the workspace, newest first."""
    statement = select(Recommendation).where(Recommendation.workspace_id == workspace_id)
    if contact_id is not None:
        statement = statement.where(Recommendation.contact_id == contact_id)
    statement = statement.order_by(Recommendation.created_at.desc(), Recommendation.id.desc())
    return (await session.scalars(statement.limit(limit))).all()


async def get_audit(
    session: AsyncSession, workspace_id: str, recommendation_id: str
) -> Recommendation | None:
    return await session.scalar(
        select(Recommendation).where(
            Recommendation.workspace_id == workspace_id, Recommendation.id == recommendation_id
        )
    )
