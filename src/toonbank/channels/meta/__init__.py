"""Meta messaging channels: Facebook Messenger and Instagram Direct (one shared implementation).

* :mod:`.webhook` — the ``hub.*`` handshake and the ``X-Hub-Signature-256`` check;
* :mod:`.inbound` — webhook bodies → neutral events;
* :mod:`.outbound` — neutral content → Send API bodies (``RESPONSE`` / ``HUMAN_AGENT``);
* :mod:`.graph` — the Send API call and its error codes;
* :mod:`.channels` — the two adapters and their manifests.
"""

from __future__ import annotations

from toonbank.channels.meta.channels import InstagramChannel, MessengerChannel, MetaChannel
from toonbank.channels.meta.outbound import messaging_fields
from toonbank.channels.meta.webhook import signature

__all__ = ["InstagramChannel", "MessengerChannel", "MetaChannel", "messaging_fields", "signature"]
