"""Meta webhook security shared by Messenger and Instagram: the GET handshake and the signature.

Handshake: when a callback URL is saved in the App Dashboard Meta calls
``GET <url>?hub.mode=subscribe&hub.verify_token=<token>&hub.challenge=<int>``; the endpoint must
answer 200 with the challenge as body when the token matches, anything else otherwise.

Signature: every POST carries ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw
body)>``. The HMAC is taken over the raw bytes as received (Meta escapes non-ASCII as
``\\uXXXX`` before signing, so re-serialised JSON would not match). The legacy SHA-1
``X-Hub-Signature`` header is not accepted: it is weaker and Meta sends the SHA-256 header
alongside it.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from toonbank.channels.base import InboundRequest, SignatureError, WebhookResponse
from toonbank.kit.crypto import constant_time_equal

SIGNATURE_HEADER = "x-hub-signature-256"
LEGACY_SIGNATURE_HEADER = "x-hub-signature"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_MAX_CHALLENGE = 512


def signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value Meta sends for ``body``."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(request: InboundRequest, app_secret: object) -> None:
    """Raise :class:`SignatureError` unless the body is signed with ``app_secret``."""
    if not isinstance(app_secret, str) or not app_secret:
        raise SignatureError("connection has no app_secret")
    header = request.headers.get(SIGNATURE_HEADER)
    if header is None:
        if LEGACY_SIGNATURE_HEADER in request.headers:
            raise SignatureError(
                "only X-Hub-Signature-256 is accepted (legacy SHA-1 X-Hub-Signature is not)"
            )
        raise SignatureError("missing X-Hub-Signature-256 header")
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        raise SignatureError("X-Hub-Signature-256 must be 'sha256=' and 64 hex digits")
    expected = signature(app_secret, request.body)
    if not constant_time_equal(expected, "sha256=" + match.group(1).lower()):
        raise SignatureError("X-Hub-Signature-256 does not match the body")


def handshake(request: InboundRequest, verify_token: object) -> WebhookResponse:
    """Answer Meta's subscription GET: 200 with the challenge, or 403."""
    mode = request.query.get("hub.mode")
    token = request.query.get("hub.verify_token")
    challenge = request.query.get("hub.challenge")
    valid = (
        isinstance(verify_token, str)
        and bool(verify_token)
        and mode == "subscribe"
        and token is not None
        and bool(challenge)
        and len(challenge or "") <= _MAX_CHALLENGE
    )
    # Compare even when something else is wrong, so timing says nothing about the token.
    matches = constant_time_equal(str(verify_token or ""), token or "")
    if valid and matches and challenge:
        return WebhookResponse(status=200, body=challenge.encode(), media_type="text/plain")
    return WebhookResponse(status=403, body=b"verification failed", media_type="text/plain")
