"""Connectors: how the compiled app meets the outside world (``firebase``: Cloud Functions)."""
