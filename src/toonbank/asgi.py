"""ASGI entry point for multi-process serving (``uvicorn toonbank.asgi:app --workers N``)."""

from toonbank.app import create_app
from toonbank.config import load_settings
from toonbank.context import tune_gc_for_serving
from toonbank.ops.logging import configure_logging

_settings = load_settings()
configure_logging(_settings.log_level, _settings.log_json)
app = create_app(_settings)
tune_gc_for_serving()
