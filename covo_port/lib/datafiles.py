"""The data files shipped in ``covo_port/data/``, read as text."""

from __future__ import annotations

from importlib import resources


def data_text(*parts: str) -> str:
    """A file of ``covo_port/data/`` as text (``data_text("ascend", "op_list_2_8.json")``)."""
    return resources.files("covo_port").joinpath("data", *parts).read_text(encoding="utf-8")
