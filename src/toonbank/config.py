"""All settings in one object: flags > environment (``TOONBANK_*``) > config file > defaults."""

from __future__ import annotations

import os
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``TOONBANK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TOONBANK_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///var/toonbank.db",
        description="SQLAlchemy async URL (sqlite+aiosqlite:///… or postgresql+asyncpg://…).",
    )
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Where local files live.")
    secret_key: str | None = Field(
        default=None,
        description="Signs visitor tokens and encrypts channel secrets. Generated into "
        "data_dir/secret.key when unset (development only).",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL providers and widgets reach us at."
    )
    redis_url: str | None = Field(
        default=None, description="redis:// URL for cross-process realtime fan-out and wake-ups."
    )
    embedded_worker: bool = Field(default=True, description="Run the pipeline worker in `serve`.")
    max_body_bytes: int = Field(default=1_048_576, description="Largest accepted request body.")
    max_upload_bytes: int = Field(default=5_242_880, description="Largest web-chat upload.")
    max_media_bytes: int = Field(
        default=26_214_400, description="Largest inbound media file copied from a provider."
    )
    widget_rate_limit: str = Field(
        default="120/minute", description="Per-IP limit on public web-chat endpoints."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Allowed CORS origins for the REST API (closed)."
    )
    log_level: str = Field(default="INFO")
    log_json: bool = Field(default=False, description="Log JSON lines instead of console text.")
    log_bodies: bool = Field(default=False, description="Log message bodies (debugging only).")
    worker_poll_interval: float = Field(default=0.5, description="Seconds between idle polls.")
    lease_seconds: float = Field(default=30.0, description="How long a worker owns a claim.")
    dispatch_max_attempts: int = Field(default=8)
    retry_base_seconds: float = Field(default=1.0, description="First retry delay (doubles).")
    retry_max_seconds: float = Field(default=300.0, description="Longest delay between retries.")
    dispatch_timeout: float = Field(default=10.0, description="HTTP timeout for provider sends.")
    dispatch_concurrency: int = Field(
        default=64,
        ge=1,
        le=1000,
        description="Provider sends in flight per worker process (each connection is still "
        "paced at its own rate).",
    )
    llm_enabled: bool = Field(
        default=False,
        description="Use the optional generative layer (rephrasing, grounded answers, "
        "translation) through an OpenAI-compatible endpoint. Off: the assistant is "
        "deterministic.",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible API base, e.g. https://api.openai.com/v1, "
        "http://127.0.0.1:11434/v1 (Ollama), http://gpu-box:8000/v1 (vLLM).",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Chat model name at that endpoint.")
    llm_api_key: str | None = Field(default=None, description="Bearer key (never logged).")
    llm_timeout: float = Field(
        default=8.0, description="Seconds before a generation is abandoned for the fallback."
    )
    payment_reminder_minutes: int = Field(
        default=60,
        ge=0,
        description="Remind the customer this long before a payment link "
        "expires (0: no reminders; links that live shorter get none).",
    )
    fulfilment_max_attempts: int = Field(
        default=10, ge=1, description="Tries of a fulfilment webhook before it is given up."
    )

    def resolved_secret_key(self) -> str:
        """The configured secret, or a per-installation key kept in ``data_dir``."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional TOML file, the environment and explicit overrides."""
    file_values: dict[str, Any] = {}
    path = config_file or (
        Path(os.environ["TOONBANK_CONFIG"]) if os.environ.get("TOONBANK_CONFIG") else None
    )
    if path is not None:
        file_values = _read_file(path)
    env_values = Settings().model_dump(exclude_unset=True)
    merged = {**file_values, **env_values, **{k: v for k, v in overrides.items() if v is not None}}
    return Settings(**merged)


class ConfigFileError(ValueError):
    pass


def _read_file(path: Path) -> dict[str, Any]:
    """The ``[toonbank]`` table of a TOML file; unknown keys are errors (typos must not pass)."""
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle).get("toonbank", {})
    except FileNotFoundError:
        raise ConfigFileError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigFileError(f"config file {path}: [toonbank] must be a table")
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise ConfigFileError(f"config file {path}: unknown settings {', '.join(unknown)}")
    return values


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    return load_settings()
