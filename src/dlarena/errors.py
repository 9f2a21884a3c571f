"""Errors that are the user's to fix: the CLI prints them as one line and exits with 2."""


class UsageError(Exception):
    """Bad input from the user (unknown name, bad path, bad number). Never a traceback."""
