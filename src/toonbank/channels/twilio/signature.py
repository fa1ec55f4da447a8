"""Twilio webhook authentication, shared by messaging (``twilio``) and voice (``twilio-voice``).

Twilio signs every webhook with ``X-Twilio-Signature = base64(HMAC-SHA1(auth_token, URL + sorted
name+value pairs))``. Verification uses the official ``twilio`` SDK's ``RequestValidator`` (pure,
no I/O; it accepts the URL with and without the default port, since Twilio's signing is
inconsistent there). The URL must be the *public* URL Twilio called, query included: behind a
TLS-terminating proxy our own view (``http://10.0.0.5:8000/…``) differs from it, so the webhook
route passes ``public_url`` + path + query in ``InboundRequest.url``. Webhooks signed with a
Twilio *SharedKey* (``X-Twilio-Webhooks-Signature-Settings``) are rejected with a clear error.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from twilio.request_validator import RequestValidator

from toonbank.channels.base import Connection, InboundRequest, PayloadError, SignatureError

SIGNATURE_HEADER = "x-twilio-signature"
SHARED_KEY_HEADER = "x-twilio-webhooks-signature-settings"


class FormParams(dict[str, list[str]]):
    """Form fields with all their values; ``getlist`` is what ``RequestValidator`` looks for."""

    def getlist(self, name: str) -> list[str]:
        return self[name]

    def first(self) -> dict[str, str]:
        return {name: values[0] for name, values in self.items() if values}


def form_params(body: bytes) -> FormParams:
    """Parse a form body, keeping blank values (Twilio signs ``ToCity=`` as "ToCity")."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 form data") from None
    return FormParams(parse_qs(text, keep_blank_values=True))


def request_params(request: InboundRequest) -> dict[str, str]:
    """The webhook's parameters: the query of a GET webhook, the form body of a POST."""
    if request.method.upper() == "GET":
        return dict(request.query)
    return form_params(request.body).first()


def verify_signature(request: InboundRequest, connection: Connection) -> None:
    """Check ``X-Twilio-Signature`` over the public URL and every form parameter."""
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not signature:
        raise SignatureError("missing X-Twilio-Signature header")
    if request.headers.get(SHARED_KEY_HEADER):
        raise SignatureError(
            "webhook signed with a Twilio SharedKey (X-Twilio-Webhooks-Signature-Settings); "
            "only Auth Token signatures are supported — remove the Webhook Setting's key"
        )
    token = connection.setting("auth_token")
    if not token:
        raise SignatureError("connection has no auth_token")
    if request.method.upper() == "GET":
        params = FormParams()  # GET webhooks: the parameters are in the (signed) URL
    else:
        try:
            params = form_params(request.body)
        except PayloadError:
            raise SignatureError("body is not UTF-8 form data") from None
    if not RequestValidator(str(token)).validate(request.url, params, signature):
        raise SignatureError(
            "X-Twilio-Signature does not match (wrong auth_token, or the URL Twilio called "
            "differs from the public webhook URL)"
        )
