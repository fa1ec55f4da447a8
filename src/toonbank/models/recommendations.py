"""The audit trail of recommendations: what was shown to whom, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from toonbank.models.base import Base, JSONType, UTCDateTime, new_id, utcnow


class Recommendation(Base):
    """One answer of ``commerce.recommend``: the request, every signal it used (preferences,
    purchases, the anchor product, relaxed filters …), the products and the reasons shown."""

    __tablename__ = "recommendations"
    __table_args__ = (
        Index("ix_recommendations_workspace_id_created_at", "workspace_id", "created_at"),
        Index("ix_recommendations_contact_id", "contact_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True
    )
    language: Mapped[str] = mapped_column(String(8))
    request: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    signals: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    product_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    reason: Mapped[str] = mapped_column(Text)
    """Every group's reason, one per line, as the shopper read them."""
    groups: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    """``[{"kind", "reason", "product_ids"}]`` per group shown."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
