"""The message pipeline: ingest → normalize → process (bot turn) → dispatch (outbox).

Each stage is a short transaction over rows in the database, so any process may crash at any
moment and another (or the same, restarted) picks up exactly where the committed state says.
"""
