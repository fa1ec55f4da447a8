"""The demo fashion shop: a few hundred products with variants (imported through the GMC
importer, with Dutch translations and stock per store), four stores in the Netherlands and
Belgium with opening hours and holidays, shipping methods, VAT rates and a discount code
(``WELCOME10``), so a newcomer can check out and pay on the sandbox's TEST MODE page.
"""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select

from toonbank.commerce import sample
from toonbank.commerce.imports import ImportOptions, import_feed
from toonbank.commerce.shipping import upsert_method
from toonbank.commerce.stores import StoreIn, upsert_store
from toonbank.db import Database
from toonbank.kit.clock import now
from toonbank.models import DiscountCode, Product, TaxRate

DEMO_PRODUCTS = 300
DEMO_TAILORING = 8
"""Blazers in suit sizes 46-54 (two of them blue in size 50), after the general catalog."""
WEEKDAY = ["10:00-18:00"]


def _holidays(year: int, country: str) -> list[dict[str, Any]]:
    days: list[dict[str, Any]] = []
    for y in (year, year + 1):
        days += [
            {"date": f"{y}-01-01", "closed": True, "note": "New Year's Day"},
            {"date": f"{y}-12-24", "hours": ["10:00-16:00"], "note": "Christmas Eve"},
            {"date": f"{y}-12-25", "closed": True, "note": "Christmas Day"},
            {"date": f"{y}-12-26", "hours": ["12:00-17:00"], "note": "Boxing Day"},
        ]
        if country == "NL":
            days.append({"date": f"{y}-04-27", "closed": True, "note": "King's Day"})
        else:
            days.append({"date": f"{y}-07-21", "closed": True, "note": "Belgian National Day"})
    return days


STORES = (
    StoreIn(
        code="AMS-01", name="Toonbank Amsterdam Kalverstraat", address="Kalverstraat 112",
        postcode="1012 PK", city="Amsterdam", country="NL", latitude=52.3686, longitude=4.8912,
        phone="+31 20 123 4567", timezone="Europe/Amsterdam",
        opening_hours={"mon": ["12:00-18:00"], "tue": WEEKDAY, "wed": WEEKDAY,
                       "thu": ["10:00-21:00"], "fri": WEEKDAY, "sat": WEEKDAY,
                       "sun": ["12:00-17:00"]},
        services=["click_and_collect", "returns", "alterations", "personal_styling"],
    ),
    StoreIn(
        code="UTR-01", name="Toonbank Utrecht Oudegracht", address="Oudegracht 150",
        postcode="3511 AZ", city="Utrecht", country="NL", latitude=52.0894, longitude=5.1206,
        phone="+31 30 234 5678", timezone="Europe/Amsterdam",
        opening_hours={"mon": ["13:00-18:00"], "tue": WEEKDAY, "wed": WEEKDAY,
                       "thu": ["10:00-21:00"], "fri": WEEKDAY, "sat": ["09:30-17:30"],
                       "sun": ["12:00-17:00"]},
        services=["click_and_collect", "returns"],
    ),
    StoreIn(
        code="RTM-01", name="Toonbank Rotterdam Lijnbaan", address="Lijnbaan 73",
        postcode="3012 EL", city="Rotterdam", country="NL", latitude=51.9201, longitude=4.4747,
        phone="+31 10 345 6789", timezone="Europe/Amsterdam",
        opening_hours={"mon": ["11:00-18:00"], "tue": WEEKDAY, "wed": WEEKDAY,
                       "thu": WEEKDAY, "fri": ["10:00-21:00"], "sat": WEEKDAY,
                       "sun": ["12:00-18:00"]},
        services=["click_and_collect", "returns", "alterations"],
    ),
    StoreIn(
        code="ANT-01", name="Toonbank Antwerpen Meir", address="Meir 48", postcode="2000",
        city="Antwerpen", country="BE", latitude=51.2182, longitude=4.4066,
        phone="+32 3 456 78 90", timezone="Europe/Brussels",
        opening_hours={"mon": WEEKDAY, "tue": WEEKDAY, "wed": WEEKDAY, "thu": WEEKDAY,
                       "fri": WEEKDAY, "sat": ["10:00-18:30"]},
        services=["click_and_collect", "returns"],
    ),
)  # fmt: skip


def _shipping(year: int) -> list[tuple[str, dict[str, Any]]]:
    holidays = [f"{y}-{md}" for y in (year, year + 1) for md in ("01-01", "12-25", "12-26")]
    return [
        ("postnl-standard", {
            "name": "PostNL standard delivery", "carrier": "PostNL", "countries": ["NL"],
            "price": "4.95", "free_over": "75.00", "timezone": "Europe/Amsterdam",
            "cutoff": "22:00", "dispatch_days": [0, 1, 2, 3, 4, 5],
            "delivery_days": [0, 1, 2, 3, 4, 5], "transit_days_min": 1, "transit_days_max": 2,
            "holidays": holidays, "position": 1,
        }),
        ("dhl-express", {
            "name": "DHL express (next working day)", "carrier": "DHL", "countries": ["NL", "BE"],
            "price": "9.95", "timezone": "Europe/Amsterdam", "cutoff": "17:00",
            "dispatch_days": [0, 1, 2, 3, 4], "delivery_days": [0, 1, 2, 3, 4],
            "transit_days_min": 1, "transit_days_max": 1, "holidays": holidays, "position": 2,
        }),
        ("bpost-standard", {
            "name": "bpost standard delivery", "carrier": "bpost", "countries": ["BE"],
            "price": "6.95", "free_over": "100.00", "timezone": "Europe/Brussels",
            "cutoff": "18:00", "dispatch_days": [0, 1, 2, 3, 4],
            "delivery_days": [0, 1, 2, 3, 4, 5], "transit_days_min": 1, "transit_days_max": 3,
            "holidays": holidays, "position": 3,
        }),
        ("store-pickup", {
            "name": "Collect in store (free)", "kind": "pickup", "countries": ["NL", "BE"],
            "price": "0.00", "timezone": "Europe/Amsterdam", "cutoff": "15:00",
            "dispatch_days": [0, 1, 2, 3, 4, 5], "delivery_days": [0, 1, 2, 3, 4, 5, 6],
            "transit_days_min": 0, "transit_days_max": 1, "holidays": holidays, "position": 4,
        }),
    ]  # fmt: skip


async def seed_shop(db: Database, workspace_id: str, products: int = DEMO_PRODUCTS) -> bool:
    """Seed the demo shop once (nothing happens when the workspace has products)."""
    async with db.session() as session:
        existing = await session.scalar(
            select(func.count()).select_from(Product).where(Product.workspace_id == workspace_id)
        )
    if existing:
        return False
    year = now().year
    async with db.uow() as uow:
        for store in STORES:
            store.exceptions = _holidays(year, store.country or "NL")
            await upsert_store(uow.session, workspace_id, store)
        await upsert_store(
            uow.session,
            workspace_id,
            StoreIn(code="online", name="Online warehouse", kind="warehouse", city="Tilburg",
                    country="NL", timezone="Europe/Amsterdam"),
        )  # fmt: skip
        for code, values in _shipping(year):
            await upsert_method(uow.session, workspace_id, code, values)
        # Ready to check out and pay: VAT for both countries, a welcome code; the sandbox
        # payment provider (TEST MODE page) needs no account, so links work offline.
        uow.session.add_all([
            TaxRate(workspace_id=workspace_id, country="NL", rate_bp=2100, updated_at=now()),
            TaxRate(workspace_id=workspace_id, country="BE", rate_bp=2100, updated_at=now()),
            DiscountCode(workspace_id=workspace_id, code="WELCOME10", kind="percent",
                         percent_bp=1000, uses=0, active=True),
        ])  # fmt: skip
    items = list(sample.products(products))
    items += sample.products(DEMO_TAILORING, seed=2, garments=sample.TAILORING, first=900_001)
    feeds: list[tuple[str, ImportOptions]] = []
    english = io.StringIO()
    sample.write_gmc(items, english)
    feeds.append((english.getvalue(), ImportOptions(format="gmc", language="en")))
    dutch = io.StringIO()
    sample.write_gmc(items, dutch, language="nl")
    feeds.append((dutch.getvalue(), ImportOptions(format="gmc", language="nl", mode="translation")))
    stock = io.StringIO()
    sample.write_local_inventory(items, stock, [s.code for s in STORES] + ["online"])
    feeds.append((stock.getvalue(), ImportOptions(format="gmc_local")))
    for text, options in feeds:
        await import_feed(db, workspace_id, io.BytesIO(text.encode()), options)
    return True
