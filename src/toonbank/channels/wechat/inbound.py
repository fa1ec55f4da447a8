"""WeChat Official Account message XML → neutral events.

XML is parsed with the standard library after refusing anything that could expand entities or
reach outside the document (``<!DOCTYPE``/``<!ENTITY``): the body is decoded as strict UTF-8
and parsed as text, so an encoding declaration cannot smuggle a DOCTYPE past the check.

Mapping (plaintext XML, or the decrypted XML of a safe-mode message):

- ``text`` → Text (a tap on a ``msgmenu`` option arrives as text whose ``Content`` is the
  option title, plus ``bizmsgmenuid``: kept in ``extra["menu_id"]``; the pipeline maps the title
  back to the offered option), ``image`` → Media(image, ``PicUrl``), ``voice`` → Text of
  WeChat's speech ``Recognition`` when present (the voice ``MediaId`` in ``extra``), otherwise
  Media(audio, ``provider-media://<MediaId>``), ``video``/``shortvideo`` → Media(video),
  ``location`` → Location (``Label`` as address), ``link`` → Text (title, description, URL).
- ``event``: ``subscribe`` / ``unsubscribe`` / ``SCAN`` / ``CLICK`` → Reply whose payload is the
  ``EventKey`` (``qrscene_…`` for a scan-to-follow, the menu key for CLICK) or the event name;
  ``extra["event"]`` names the event, subscribe adds ``opt_in``, unsubscribe ``opt_out``. Other
  events (VIEW, LOCATION reports, template/mass-send job results) are skipped.
- ``provider_message_id``: ``MsgId``; events have none, so ``"{FromUserName}:{CreateTime}:{Event}"``
  (WeChat's recommended dedupe key for events). ``sender_id``: the user's OpenID.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from toonbank.channels.base import InboundMessage, PayloadError
from toonbank.channels.content import Content, Location, Media, Reply, Text

MAX_BODY = 1024 * 1024
FORBIDDEN = ("<!DOCTYPE", "<!ENTITY")
REPLY_EVENTS = {"subscribe", "unsubscribe", "scan", "click"}
VOICE_MIME = {"amr": "audio/amr", "speex": "audio/speex", "mp3": "audio/mpeg"}


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The ``<xml>`` document's child elements as ``{tag: text}`` (raises PayloadError)."""
    if len(body) > MAX_BODY:
        raise PayloadError("body is too large for a WeChat message")
    try:
        text = body.decode("utf-8-sig") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8 XML") from None
    upper = text.upper()
    if any(marker in upper for marker in FORBIDDEN) or "\x00" in text:
        raise PayloadError("DOCTYPE/ENTITY declarations are not allowed in WeChat XML")
    try:
        root = ET.fromstring(text)  # noqa: S314 - DOCTYPE/ENTITY refused above
    except ET.ParseError:
        raise PayloadError("body is not valid XML") from None
    if root.tag != "xml":
        raise PayloadError("not a WeChat message: the root element must be <xml>")
    return {child.tag: child.text or "" for child in root}


def events_of(fields: dict[str, str]) -> list[InboundMessage]:
    """The neutral events of one WeChat message (zero or one)."""
    sender = fields.get("FromUserName", "").strip()
    msg_type = fields.get("MsgType", "").strip().lower()
    if not sender or not msg_type:
        raise PayloadError("not a WeChat message: FromUserName and MsgType are required")
    timestamp = _timestamp(fields.get("CreateTime", ""))
    if msg_type == "event":
        return _event(fields, sender, timestamp)
    message = _message(msg_type, fields)
    if message is None:
        return []
    content, extra = message
    msg_id = fields.get("MsgId", "").strip()
    if not msg_id:
        raise PayloadError(f"WeChat {msg_type} message without MsgId")
    return [
        InboundMessage(
            provider_message_id=msg_id,
            sender_id=sender[:255],
            content=content,
            timestamp=timestamp,
            extra=extra,
        )
    ]


def _timestamp(value: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(value.strip()), UTC)
    except (ValueError, OverflowError, OSError):
        raise PayloadError("CreateTime must be unix seconds") from None


def _message(msg_type: str, fields: dict[str, str]) -> tuple[Content, dict[str, Any]] | None:
    """Content and extra of a customer message, or None for types we skip."""
    match msg_type:
        case "text":
            return _text(fields)
        case "image":
            url = fields.get("PicUrl") or _media_ref(fields)
            return Media(kind="image", url=url[:2048]), {}
        case "voice":
            return _voice(fields)
        case "video" | "shortvideo":
            return Media(kind="video", url=_media_ref(fields)), {}
        case "location":
            return _location(fields), {}
        case "link":
            lines = [fields.get(k, "").strip() for k in ("Title", "Description", "Url")]
            text = "\n".join(line for line in lines if line)
            return (Text(text=text[:4096]), {}) if text else None
    return None


def _text(fields: dict[str, str]) -> tuple[Content, dict[str, Any]] | None:
    text = fields.get("Content", "")
    if not text.strip():
        return None
    menu_id = fields.get("bizmsgmenuid", "").strip()
    return Text(text=text[:4096]), ({"menu_id": menu_id} if menu_id else {})


def _voice(fields: dict[str, str]) -> tuple[Content, dict[str, Any]]:
    media_id = fields.get("MediaId", "").strip()
    fmt = fields.get("Format", "").strip().lower()
    recognition = fields.get("Recognition", "").strip()
    if recognition:
        return Text(text=recognition[:4096]), {"voice": {"media_id": media_id, "format": fmt}}
    return Media(kind="audio", url=_media_ref(fields), mime_type=VOICE_MIME.get(fmt)), {}


def _media_ref(fields: dict[str, str]) -> str:
    media_id = fields.get("MediaId", "").strip()
    if not media_id:
        raise PayloadError("WeChat media message without MediaId")
    return f"provider-media://{media_id}"


def _location(fields: dict[str, str]) -> Location:
    try:
        return Location(
            latitude=float(fields.get("Location_X", "")),
            longitude=float(fields.get("Location_Y", "")),
            address=(fields.get("Label") or "").strip()[:512] or None,
        )
    except ValueError:
        raise PayloadError("Location_X/Location_Y are not valid coordinates") from None


def _event(fields: dict[str, str], sender: str, timestamp: datetime) -> list[InboundMessage]:
    """subscribe / unsubscribe / SCAN / CLICK → Reply; other events are skipped."""
    event = fields.get("Event", "").strip()
    if event.lower() not in REPLY_EVENTS:
        return []
    key = fields.get("EventKey", "").strip()
    extra: dict[str, Any] = {"event": event}
    if event.lower() == "subscribe":
        extra["opt_in"] = True
    elif event.lower() == "unsubscribe":
        extra["opt_out"] = True
    return [
        InboundMessage(
            provider_message_id=f"{sender}:{fields.get('CreateTime', '').strip()}:{event}"[:255],
            sender_id=sender[:255],
            content=Reply(payload=(key or event.lower())[:256]),
            timestamp=timestamp,
            extra=extra,
        )
    ]
