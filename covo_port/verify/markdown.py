"""Markdown pieces the verification reports share: one-line cells and tables."""

from __future__ import annotations

from typing import Any


def cell(value: Any) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|") or " "


def table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    """The lines of a Markdown table, and a blank line after it."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def code(text: str) -> str:
    """``text`` as inline code, whatever backticks it holds."""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
