"""WhatsApp Business Platform (Meta Cloud API) channel."""

from toonbank.channels.whatsapp.adapter import WhatsAppChannel, signature
from toonbank.channels.whatsapp.graph import media_id_of, media_url

__all__ = ["WhatsAppChannel", "media_id_of", "media_url", "signature"]
