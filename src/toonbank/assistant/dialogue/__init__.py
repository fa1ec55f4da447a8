"""The assistant's dialogue: explicit, persisted state machines on top of the understanding
engine, answering from the commerce data of the moment (see docs/assistant.md)."""
