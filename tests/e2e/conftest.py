"""End-to-end tests: the app served on a real loopback port, providers played by the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.simulator import (  # noqa: F401 - fixtures
    provider_sim,
    served_settings,
    toonbank_socket,
    toonbank_url,
)

from toonbank.config import Settings


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """The app under test listens on a real port and runs its worker in-process."""
    return served_settings(database_url, tmp_path, request.getfixturevalue("toonbank_socket"))
