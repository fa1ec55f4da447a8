"""Twilio Programmable Messaging: SMS, MMS and WhatsApp via Twilio.

Send API: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form fields ``To``,
``From``/``MessagingServiceSid``, ``Body``, ``MediaUrl``, ``StatusCallback``; HTTP Basic auth
``AccountSid:AuthToken``) answers 201 with the Message resource; errors are ``{"code",
"message", "more_info", "status"}`` with Twilio's error codes (20003 authenticate, 20429 too many
requests, 21610 unsubscribed recipient, 21211 invalid To, …). Inbound media is served at
``/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}`` (Basic auth).

Webhooks are form posts signed with ``X-Twilio-Signature`` (computed with the official
``twilio`` SDK's ``RequestValidator`` over the exact URL and the sorted parameters). Status
callbacks (sent, delivered, read on WhatsApp; failed/undelivered with ``ErrorCode``) go to the
message's ``StatusCallback``, or, when a send names none, to the account's webhook URL (as a
Messaging Service with a delivery status callback configured would).
"""

from __future__ import annotations

import base64
import re
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator

from toonbank.simulator.base import (
    Account,
    Choice,
    Fault,
    MediaFile,
    Provider,
    Rand,
    Refusal,
    Sent,
    Webhook,
)

API_VERSION = "2010-04-01"
E164 = re.compile(r"\+[1-9]\d{6,14}")
OPTION_LINE = re.compile(r"^\s*(\d{1,2})\.\s+(.+?)\s*$")

ERRORS: dict[int, str] = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21606: "The 'From' phone number provided is not a valid message-capable Twilio phone "
    "number for this destination/account.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
RECEIPT_ERRORS: dict[str, tuple[str, int]] = {
    "opted_out": ("failed", 21610),
    "window_closed": ("failed", 63016),
    "invalid_recipient": ("undelivered", 30003),
    "rate_limited": ("failed", 63018),
}
"""Fault kind → (MessageStatus, ErrorCode) of the failed status callback."""


def twilio_error(status: int, code: int, message: str | None = None) -> JSONResponse:
    body = {
        "code": code,
        "message": message or ERRORS.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


def _prefix(address: str) -> str:
    head, sep, _ = address.partition(":")
    return f"{head}:" if sep and head.isalpha() else ""


def _bare(address: str) -> str:
    return address.removeprefix(_prefix(address))


def options_of(body: str) -> list[Choice]:
    """The numbered options of a plain-text menu ("2. Order status" → typed answer "2")."""
    choices = []
    for line in body.splitlines():
        match = OPTION_LINE.match(line)
        if match:
            title = match.group(2).split(" \u2014 ", 1)[0]
            choices.append(Choice(title, match.group(1)))
    expected = [str(n) for n in range(1, len(choices) + 1)]
    return choices if [c.value for c in choices] == expected else []


class Twilio(Provider):
    name = "twilio"
    title = "Twilio (SMS, MMS, WhatsApp)"
    send_faults = frozenset(
        {"rate_limited", "server_error", "timeout", "opted_out", "invalid_recipient"}
    )
    receipt_faults = frozenset(RECEIPT_ERRORS)

    def new_account(self, rand: Rand) -> Account:
        account_sid = "AC" + rand.hex(32)
        settings = {
            "account_sid": account_sid,
            "auth_token": rand.hex(32),
            "from_number": "+1555" + rand.digits(7, "0123456789"),
        }
        return Account(self.name, account_sid, settings)

    def new_customer(self, rand: Rand, **options: Any) -> str:
        number = "+316" + rand.digits(8)
        return f"whatsapp:{number}" if options.get("whatsapp") else number

    def routes(self) -> list[BaseRoute]:
        base = f"/{API_VERSION}/Accounts/{{account_sid}}"
        return [
            Route(
                f"{base}/Messages.json", self.endpoint("messages", self._create), methods=["POST"]
            ),
            Route(
                f"{base}/Messages/{{message_sid}}/Media/{{media_sid}}",
                self.endpoint("media", self._media),
                methods=["GET"],
            ),
        ]

    # -- the REST API --------------------------------------------------------------------------

    def _account(self, request: Request) -> Account:
        sid = request.path_params["account_sid"]
        account = self.sim.account(self.name, sid)
        user, password = _basic_auth(request.headers.get("authorization", ""))
        if account is None or user != sid or password != account.settings["auth_token"]:
            response = twilio_error(401, 20003)
            response.headers["www-authenticate"] = 'Basic realm="Twilio API"'
            raise Refusal(response, "unauthorized")
        request.state.account = account.key
        return account

    async def _create(self, request: Request) -> Response:
        account = self._account(request)
        form = await request.form()
        fields = {key: str(value) for key, value in form.multi_items()}
        media_urls = [str(v) for v in form.getlist("MediaUrl")]
        to, sender = fields.get("To", ""), fields.get("From", "")
        service = fields.get("MessagingServiceSid", "")
        body = fields.get("Body", "")
        if not to:
            raise Refusal(twilio_error(400, 21604))
        if not E164.fullmatch(_bare(to)):
            raise Refusal(twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}"))
        if not sender and not service:
            raise Refusal(twilio_error(400, 21603))
        if sender and (
            _bare(sender) != account.settings["from_number"] or _prefix(sender) != _prefix(to)
        ):
            raise Refusal(twilio_error(400, 21606))
        if not body and not media_urls:
            raise Refusal(twilio_error(400, 21602))
        if len(body) > 1600:
            raise Refusal(twilio_error(400, 21617))

        def accept() -> tuple[Sent, Response]:
            sid = ("MM" if media_urls else "SM") + self.sim.ids.hex(32)
            now = formatdate(usegmt=True)
            uri = f"/{API_VERSION}/Accounts/{account.key}/Messages/{sid}"
            resource = {
                "account_sid": account.key,
                "api_version": API_VERSION,
                "body": body,
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": sender or None,
                "messaging_service_sid": service or None,
                "num_media": str(len(media_urls)),
                "num_segments": "1" if sender else "0",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued" if sender else "accepted",
                "subresource_uris": {"media": f"{uri}/Media.json"},
                "to": to,
                "uri": f"{uri}.json",
            }
            kind = "media" if media_urls else "text"
            sent = Sent(
                self.name,
                account.key,
                to,
                sid,
                kind,
                body or None,
                options_of(body),
                {**fields, "MediaUrl": media_urls},
                context={"callback": fields.get("StatusCallback") or account.webhook_url},
            )
            return sent, JSONResponse(resource, status_code=201)

        return await self.sim.deliver(self, account, to, request, accept)

    def fault_response(self, fault: Fault) -> Response:
        if fault.kind == "rate_limited":
            response = twilio_error(429, 20429)
            if fault.retry_after is not None:
                response.headers["retry-after"] = f"{fault.retry_after:g}"
            return response
        if fault.kind == "opted_out":
            return twilio_error(400, 21610)
        if fault.kind == "invalid_recipient":
            return twilio_error(400, 21211)
        status = fault.status or 500
        return twilio_error(status, 20500 if status == 500 else 20000 + status)

    def malformed(self, detail: str) -> Response:
        return twilio_error(400, 20001, "Invalid parameter")

    async def _media(self, request: Request) -> Response:
        self._account(request)
        media = self.sim.media_file(request.path_params["media_sid"].removeprefix("ME"))
        if media is None:
            return twilio_error(404, 20404, "The requested resource was not found")
        return Response(media.data, media_type=media.mime_type)

    # -- webhooks ------------------------------------------------------------------------------

    def _signed(self, account: Account, url: str, params: dict[str, str], kind: str) -> Webhook:
        signature = RequestValidator(account.settings["auth_token"]).compute_signature(url, params)
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "user-agent": "TwilioProxy/1.1",
            "i-twilio-idempotency-token": self.sim.ids.hex(8) + "-" + self.sim.ids.hex(24),
            "x-home-region": "us1",
            "x-twilio-signature": signature,
        }
        return Webhook(url, urlencode(params).encode(), headers, kind)

    def _inbound(
        self, account: Account, customer: str, body: str, media: MediaFile | None = None
    ) -> Webhook:
        sid = ("MM" if media else "SM") + self.sim.ids.hex(32)
        prefix = _prefix(customer)
        params = {
            "ToCountry": "US",
            "ToState": "CA",
            "SmsMessageSid": sid,
            "NumMedia": "1" if media else "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "NL",
            "To": prefix + account.settings["from_number"],
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": account.key,
            "From": customer,
            "ApiVersion": API_VERSION,
        }
        if prefix == "whatsapp:":
            params["ProfileName"] = f"Sim Customer {customer[-4:]}"
            params["WaId"] = _bare(customer).lstrip("+")
        if media is not None:
            path = f"{API_VERSION}/Accounts/{account.key}/Messages/{sid}/Media/ME{media.id}"
            params["MediaContentType0"] = media.mime_type
            params["MediaUrl0"] = self.media_url(path)
        return self._signed(account, account.webhook_url or "", params, "message")

    def text(self, account: Account, customer: str, text: str) -> Webhook:
        return self._inbound(account, customer, text)

    def reply(self, account: Account, customer: str, sent: Sent, choice: Choice) -> Webhook:
        """The customer types the option's number (SMS and Twilio WhatsApp text menus)."""
        return self._inbound(account, customer, choice.value)

    def media(
        self, account: Account, customer: str, media: MediaFile, caption: str | None
    ) -> Webhook:
        return self._inbound(account, customer, caption or "", media)

    def receipts(self, account: Account, sent: Sent, failure: Fault | None) -> list[Webhook]:
        url = sent.context.get("callback")
        if not url:
            return []
        base = {
            "SmsSid": sent.message_id,
            "To": sent.recipient,
            "MessageSid": sent.message_id,
            "AccountSid": account.key,
            "From": sent.body.get("From")
            or _prefix(sent.recipient) + account.settings["from_number"],
            "ApiVersion": API_VERSION,
        }
        if sent.body.get("MessagingServiceSid"):
            base["MessagingServiceSid"] = sent.body["MessagingServiceSid"]

        def status(state: str, **extra: str) -> Webhook:
            params = {**base, "SmsStatus": state, "MessageStatus": state, **extra}
            return self._signed(account, url, params, "receipt")

        if failure is not None:
            state, code = RECEIPT_ERRORS[failure.kind]
            return [status("sent"), status(state, ErrorCode=str(code))]
        hooks = [status("sent"), status("delivered")]
        if _prefix(sent.recipient) == "whatsapp:":
            hooks.append(status("read"))
        return hooks


def _basic_auth(header: str) -> tuple[str, str]:
    if not header.lower().startswith("basic "):
        return "", ""
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password
