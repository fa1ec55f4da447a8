"""Phone calls: the live-call controller of the ``twilio-voice`` channel (see ``calls``)."""
