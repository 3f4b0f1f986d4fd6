"""NPU007: sdpa_kernel gets exactly the backends that sdp_kernel enabled, with no deprecation."""

from __future__ import annotations

import itertools
import warnings
from collections import namedtuple

import pytest
import torch
from torch.nn.attention import _cur_sdpa_kernel_backends

from .conftest import run_rules

NAMES = ("enable_flash", "enable_math", "enable_mem_efficient", "enable_cudnn")
COMBOS = list(itertools.product([True, False], repeat=4))


def _enabled_inside(source: str, **values: object) -> set[object]:
    """Run ``source`` (which sets ``seen`` inside its with-block) and return ``seen``."""
    namespace: dict[str, object] = {"torch": torch, **values}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        exec(compile(source, "snippet", "exec"), namespace)
    return set(namespace["seen"])  # type: ignore[call-overload]


def _port(source: str) -> str:
    outcome = run_rules(source, select=("NPU007",))
    assert outcome.error is None and outcome.changed
    ported = outcome.output(source.encode()).decode()
    assert "sdp_kernel" not in ported
    return ported


BODY = ":\n    seen = _cur()\n"


@pytest.mark.parametrize("flags", COMBOS)
def test_literal_flags_give_the_same_backends(flags: tuple[bool, ...]) -> None:
    args = ", ".join(f"{n}={v}" for n, v in zip(NAMES, flags, strict=True))
    source = f"import torch\nwith torch.backends.cuda.sdp_kernel({args}){BODY}"
    ported = _port(source)
    assert "_sdpa_backends" not in ported
    assert _enabled_inside(ported, _cur=_cur_sdpa_kernel_backends) == _enabled_inside(
        source, _cur=_cur_sdpa_kernel_backends)


@pytest.mark.parametrize("flags", COMBOS)
def test_run_time_flags_give_the_same_backends(flags: tuple[bool, ...]) -> None:
    config = namedtuple("Config", NAMES[:3])(*flags[:3])
    sources = [
        f"import torch\nwith torch.backends.cuda.sdp_kernel(**config._asdict()){BODY}",
        f"import torch as t\nwith t.backends.cuda.sdp_kernel(*flags){BODY}",
        f"import torch\nwith torch.backends.cuda.sdp_kernel(flags[0], enable_cudnn=flags[3]){BODY}",
    ]
    for source in sources:
        ported = _port(source)
        assert "def _sdpa_backends(" in ported
        values = {"config": config, "flags": flags, "_cur": _cur_sdpa_kernel_backends}
        assert _enabled_inside(ported, **values) == _enabled_inside(source, **values), source


def test_attention_result_unchanged_and_no_deprecation_warning() -> None:
    source = ("import torch\nimport torch.nn.functional as F\n"
              "with torch.backends.cuda.sdp_kernel(enable_flash=False,"
              " enable_mem_efficient=False):\n"
              "    out = F.scaled_dot_product_attention(q, q, q)\n")
    q = torch.randn(1, 2, 5, 8)
    ported = _port(source)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new: dict[str, object] = {"q": q}
        exec(compile(ported, "ported", "exec"), new)
    old: dict[str, object] = {"q": q}
    with pytest.warns(FutureWarning, match="sdp_kernel"):
        exec(compile(source, "original", "exec"), old)
    assert torch.equal(new["out"], old["out"])  # type: ignore[arg-type]


def test_one_helper_per_module_whatever_the_number_of_uses() -> None:
    source = ("import torch\n\n\n"
              "def a(c):\n    with torch.backends.cuda.sdp_kernel(**c):\n        pass\n\n\n"
              "def b(c):\n    with torch.backends.cuda.sdp_kernel(**c):\n        pass\n")
    ported = _port(source)
    assert ported.count("def _sdpa_backends(") == 1
    assert ported.index("def _sdpa_backends(") < ported.index("def a(")
