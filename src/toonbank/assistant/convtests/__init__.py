"""Conversation tests for businesses: scripted conversations with assertions, run through the
same in-process pipeline as ``toonbank chat`` (``toonbank test PATH``)."""
