"""Understanding parts: text normalisation, language, entities, encoders, intents, fast path."""
