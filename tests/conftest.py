"""Shared test helpers: run rules over source text the way `apply` does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from covo_port.engines import FileOutcome, rewrite_file
from covo_port.model import RunOptions, get_target
from covo_port.registry import engine_config

CHECKOUT = Path(__file__).resolve().parents[1]
SHARED = CHECKOUT.parent / "shared"
UPSTREAM_DATA = SHARED / "upstream-data"
#: where a run of covo-port from the checkout's root would write by default
GENERATED = ("ported", "patches", "upstream")


def _generated() -> set[Path]:
    return {p for folder in GENERATED for p in (CHECKOUT / folder).rglob("*")}


@pytest.fixture(scope="session", autouse=True)
def checkout_left_clean() -> Iterator[None]:
    """The test suite writes nothing into the checkout (OUT, patches, clones go to tmp)."""
    before = _generated()
    yield
    new = sorted(str(p.relative_to(CHECKOUT)) for p in _generated() - before)
    assert not new, f"the tests left files in the checkout: {new[:5]}"


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
