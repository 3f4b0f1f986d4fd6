"""Config and checkpoint helpers."""
