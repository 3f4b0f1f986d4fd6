"""The base of the errors that are the user's to fix (a path, an option, an input file)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: the CLI prints its message as one line and exits 2."""
