"""The `dlarena` command. Imports no framework, and nothing heavy up front."""

from dlarena.cli.main import main

__all__ = ["main"]
