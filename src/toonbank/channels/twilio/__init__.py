"""Twilio Programmable Messaging (SMS, MMS and WhatsApp via Twilio)."""

from toonbank.channels.twilio.channel import TwilioChannel

__all__ = ["TwilioChannel"]
