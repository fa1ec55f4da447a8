"""Twilio Programmable Voice: phone calls as conversations (TwiML ``<Say>`` / ``<Gather>``)."""

from toonbank.channels.twilio_voice.adapter import TwilioVoiceChannel

__all__ = ["TwilioVoiceChannel"]
