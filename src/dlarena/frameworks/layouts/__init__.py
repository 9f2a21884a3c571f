"""Canonical weight layouts inside each framework's models (not frameworks themselves)."""
