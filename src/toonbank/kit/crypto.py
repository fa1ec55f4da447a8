"""Secrets at rest (Fernet), signed visitor tokens and hashed API keys / session tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, URLSafeSerializer


def _derive(secret_key: str, purpose: str) -> bytes:
    """Independent 32-byte keys per purpose from the one installation secret."""
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


class SecretBox:
    """Encrypts channel credentials before they touch the database."""

    def __init__(self, secret_key: str) -> None:
        key = base64.urlsafe_b64encode(_derive(secret_key, "toonbank.secrets.v1"))
        self._fernet = Fernet(key)

    def seal(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        if not token:
            return {}
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ValueError("channel secrets cannot be decrypted with this secret key") from exc
        return data


class TokenSigner:
    """Signed, tamper-proof tokens (visitor identity for the web-chat widget)."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        self._serializer = URLSafeSerializer(
            _derive(secret_key, purpose).hex(), salt=f"toonbank.{purpose}"
        )

    def sign(self, data: dict[str, Any]) -> str:
        return str(self._serializer.dumps(data))

    def verify(self, token: str) -> dict[str, Any] | None:
        try:
            data = self._serializer.loads(token)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)
