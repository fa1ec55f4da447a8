"""Shared types of the browser tests (importable: conftest modules are not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Shop:
    """The running demo shop: ``url`` serves the page with the widget."""

    url: str
    api_key: str

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"authorization": f"Bearer {self.api_key}"}
        response = httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def stored_messages(self) -> list[dict[str, Any]]:
        """Every message of the demo workspace, oldest first, as the REST API reports them."""
        messages: list[dict[str, Any]] = []
        for conversation in self.api("GET", "/api/v1/conversations"):
            messages += self.api("GET", f"/api/v1/conversations/{conversation['id']}/messages")
        return sorted(messages, key=lambda m: m["id"])

    def inbound_texts(self) -> list[str]:
        return [
            m["content"].get("text", "")
            for m in self.stored_messages()
            if m["direction"] == "in" and m["content"]["type"] == "text"
        ]


@dataclass
class PageErrors:
    """What the page did that a test must not silently ignore."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
