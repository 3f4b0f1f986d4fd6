"""Shared test helpers: run rules over source text the way `apply` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from covo_port.engines import FileOutcome, rewrite_file
from covo_port.model import RunOptions, get_target
from covo_port.registry import engine_config

SHARED = Path(__file__).resolve().parents[2] / "shared"
UPSTREAM_DATA = SHARED / "upstream-data"


def run_rules(
    source: str | bytes,
    path: str = "example.py",
    select: tuple[str, ...] = (),
    device_map: tuple[str, ...] = (),
    optimize: tuple[str, ...] = (),
    unsafe_fixes: bool = False,
) -> FileOutcome:
    """Rewrite one file's text with the selected rules (all by default)."""
    data = source.encode() if isinstance(source, str) else source
    options = RunOptions(optimize=frozenset(optimize), select=frozenset(select),
                         unsafe_fixes=unsafe_fixes)
    config = engine_config(get_target("npu", device_map), options)
    return rewrite_file(path, data, config)[1]


@pytest.fixture
def upstream_data() -> Path:
    if not UPSTREAM_DATA.is_dir():
        pytest.skip("../shared/upstream-data is not here")
    return UPSTREAM_DATA
