"""What a config rule sees of a config file (YAML, JSON, TOML, INI/cfg, ``.env``): its scalar
values, each with the key path that holds it and where its text lies. The config engine produces
it; a rule rewrites a value by naming the entry, never by editing text itself."""

from __future__ import annotations

from dataclasses import dataclass

#: A scalar as the format's own library reads it.
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class ConfigEntry:
    """One scalar value of a config file.

    ``keys`` is the path from the document's root: mapping keys (str) and list indices (int);
    a multi-document YAML file starts each path with the document's index. ``start``/``end`` are
    offsets in :attr:`ConfigSource.text` of the value's own characters (quotes excluded), or -1
    where the value cannot be edited in place (escapes, YAML block scalars and anchors that other
    keys share, non-string values)."""

    keys: tuple[str | int, ...]
    value: Scalar
    line: int
    column: int
    start: int = -1
    end: int = -1

    @property
    def key(self) -> str | None:
        """The innermost key that names the value (for a list item, the key of the list)."""
        return next((k for k in reversed(self.keys) if isinstance(k, str)), None)

    @property
    def in_list(self) -> bool:
        return bool(self.keys) and isinstance(self.keys[-1], int)

    @property
    def editable(self) -> bool:
        return 0 <= self.start <= self.end
