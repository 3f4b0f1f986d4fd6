"""NPU010: the torch.cuda table (checked against torch_npu's list and torch), and the rewrite."""

from __future__ import annotations

import importlib
import inspect

import libcst as cst
import pytest

from covo_port.engines import FileOutcome
from covo_port.lib.cuda_api import api_table, cuda_device_params, lookup, npu_all

from .conftest import SHARED, run_rules

REFERENCE = SHARED / "reference"


def port(source: str, select: tuple[str, ...] = ("NPU010",)) -> tuple[str, FileOutcome]:
    outcome = run_rules(source, select=select)
    assert outcome.error is None, outcome.error
    output = outcome.output(source.encode()).decode()
    cst.parse_module(output)
    assert not run_rules(output, select=select).changed, "a second apply must change nothing"
    return output, outcome


# -- the data ------------------------------------------------------------------------------------
def test_npu_side_of_every_row_is_in_torch_npu_npu_all() -> None:
    names = npu_all()
    assert len(names) == len(set(names)) == 142
    for entry in api_table().values():
        if entry.action == "npu":
            assert entry.target in names, entry
        elif entry.action in ("torch", "grad_scaler", "custom_fn"):
            assert entry.target.startswith("torch.") and entry.target.count(".") <= 2, entry
        elif entry.action == "rule":
            assert entry.target in ("NPU003", "NPU006"), entry
        elif entry.action == "report":
            assert entry.note and entry.severity is not None, entry
        else:
            assert entry.action == "namespace", entry


def test_the_packaged_list_is_the_reference_one() -> None:
    reference = REFERENCE / "torch_npu-npu-all.txt"
    if not reference.is_file():
        pytest.skip("../shared/reference is not here")
    lines = [line.strip() for line in reference.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert tuple(lines) == npu_all()


def test_rows_agree_with_the_reference_twins() -> None:
    reference = REFERENCE / "torch-cuda-api.tsv"
    if not reference.is_file():
        pytest.skip("../shared/reference is not here")
    rows = [line.split("\t") for line in reference.read_text().splitlines()
            if line and not line.startswith(("#", "cuda_name"))]
    assert len(rows) == 113
    for cuda_name, npu_name in rows:
        entry, consumed = lookup([cuda_name])
        assert consumed == 1
        if npu_name == "-":
            assert entry.action in ("report", "torch"), entry
        else:
            assert (entry.action, entry.target) in (("npu", npu_name), ("rule", "NPU006")), entry


def test_every_public_torch_cuda_name_has_a_decision() -> None:
    torch = pytest.importorskip("torch")
    unknown = "no known NPU twin"
    modules = {"": torch.cuda}
    for sub in ("memory", "random", "graphs", "streams", "amp", "amp.grad_scaler",
                "amp.autocast_mode", "amp.common", "nvtx", "comm", "nccl", "profiler", "tunable",
                "gds"):
        modules[sub] = importlib.import_module(f"torch.cuda.{sub}")
    for prefix, module in modules.items():
        names = list(getattr(module, "__all__", []))
        if not prefix:
            names += ["OutOfMemoryError", "AcceleratorError"]
        for name in names:
            entry, _ = lookup([*prefix.split("."), name] if prefix else [name])
            assert unknown not in entry.note, (prefix, name)


def test_torch_targets_exist_and_renames_are_the_same_class() -> None:
    torch = pytest.importorskip("torch")
    for entry in api_table().values():
        if entry.action in ("torch", "grad_scaler", "custom_fn"):
            module, _, name = entry.target.rpartition(".")
            assert hasattr(importlib.import_module(module), name), entry
    assert torch.cuda.OutOfMemoryError is torch.OutOfMemoryError
    assert torch.cuda.AcceleratorError is torch.AcceleratorError


def test_device_params_are_the_signatures_device_positions() -> None:
    torch = pytest.importorskip("torch")
    for name, entry in api_table().items():
        if "." in name or entry.action in ("namespace", "rule") or entry.target == "submodule":
            continue
        try:
            signature = inspect.signature(getattr(torch.cuda, name))
        except (TypeError, ValueError):
            continue
        positions = tuple(i for i, p in enumerate(signature.parameters.values())
                          if p.name in ("device", "peer_device") and p.kind in (
                              p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        assert entry.device_params == positions, name
    assert cuda_device_params("torch.cuda.memory.memory_allocated") == (0,)
    assert cuda_device_params("torch.cuda.can_device_access_peer") == (0, 1)
    assert cuda_device_params("torch.nn.Linear") == ()


def test_lookup_follows_flat_namespaces_and_the_shim_list() -> None:
    assert lookup(["memory", "memory_allocated"])[0].target == "memory_allocated"
    assert lookup(["graphs", "CUDAGraph"])[0].target == "NPUGraph"
    entry, consumed = lookup(["nvtx", "range_push"])
    assert (entry.action, consumed) == ("report", 1)
    assert lookup(["set_dump"])[0].action == "npu"  # only in torch_npu.npu.__all__
    assert "no known NPU twin" in lookup(["_lazy_init"])[0].note
    assert lookup(["amp", "GradScaler", "scale"]) == (lookup(["amp", "GradScaler"])[0], 2)


# -- the rewrite ---------------------------------------------------------------------------------
def test_split_import_keeps_parentheses_and_line_layout() -> None:
    source = ("from torch.cuda import (  # the API\n"
              "    synchronize,\n    nvtx,\n    CUDAGraph,\n)\nnvtx.mark('x')\n")
    output, outcome = port(source)
    assert output == ("from torch.cuda import (  # the API\n    nvtx,\n)\n"
                      "from torch_npu.npu import (  # the API\n    synchronize,\n"
                      "    NPUGraph as CUDAGraph,\n)\nnvtx.mark('x')\n")
    assert [f.line for f in outcome.findings] == [6]


def test_imports_on_a_shared_line_and_inside_functions() -> None:
    output, _ = port("import os; from torch.cuda import Event, get_arch_list\n"
                     "def f():\n    from torch.cuda.random import manual_seed\n"
                     "    manual_seed(0)\n")
    assert output == ("import os; from torch.cuda import get_arch_list; "
                      "from torch_npu.npu import Event\n"
                      "def f():\n    from torch_npu.npu import manual_seed\n"
                      "    manual_seed(0)\n")


def test_unused_no_twin_import_is_reported_at_the_import() -> None:
    _, outcome = port("from torch.cuda import temperature, list_gpu_processes as lgp\n")
    assert sorted(f.message.split(" ")[0] for f in outcome.findings) == [
        "torch.cuda.list_gpu_processes", "torch.cuda.temperature"]


def test_star_import_is_reported() -> None:
    output, outcome = port("from torch.cuda import *\nsynchronize()\n")
    assert output.startswith("from torch.cuda import *")
    assert len(outcome.findings) == 1 and "import *" in outcome.findings[0].message


def test_grad_scaler_subclass_keeps_its_import_and_is_reported() -> None:
    source = ("from torch.cuda.amp import GradScaler\n"
              "class Scaler(GradScaler):\n    pass\ns = GradScaler()\n")
    output, outcome = port(source)
    assert output == source
    assert ["subclassed" in f.message for f in outcome.findings] == [True]


def test_grad_scaler_multiline_call_and_value_use() -> None:
    output, outcome = port("import torch\nscaler = torch.cuda.amp.GradScaler(\n"
                           "    init_scale=1024,\n    enabled=True,\n)\n"
                           "make = torch.cuda.amp.grad_scaler.GradScaler\n")
    assert output == ('import torch\nscaler = torch.amp.GradScaler(\n    "npu",\n'
                      "    init_scale=1024,\n    enabled=True,\n)\n"
                      "make = torch.amp.GradScaler\n")
    assert len(outcome.findings) == 1 and "without a call" in outcome.findings[0].message


def test_custom_fwd_forms() -> None:
    output, outcome = port(
        "from torch.cuda.amp import custom_fwd, custom_bwd\n"
        "@custom_fwd\ndef f(ctx, x): return x\n"
        "@custom_bwd()\ndef g(ctx, x): return x\n"
        "h = custom_fwd(f, cast_inputs=None)\nkeep = custom_bwd\n")
    assert output == (
        "from torch.amp import custom_fwd, custom_bwd\n"
        '@custom_fwd(device_type="npu")\ndef f(ctx, x): return x\n'
        '@custom_bwd(device_type="npu")\ndef g(ctx, x): return x\n'
        'h = custom_fwd(f, device_type="npu", cast_inputs=None)\nkeep = custom_bwd\n')
    assert len(outcome.findings) == 1 and "used as a value" in outcome.findings[0].message


def test_aliases_need_torch_bound() -> None:
    output, outcome = port("import torch.cuda as tc\nimport torch.cuda.memory as mem\n"
                           "tc.synchronize()\nmem.empty_cache()\n")
    assert not outcome.changed and len(outcome.findings) == 2
    output, outcome = port("import torch\nimport torch.cuda.memory as mem\nmem.empty_cache()\n"
                           "x = torch.cuda\n")
    assert output.endswith("torch.npu.empty_cache()\nx = torch.npu\n")


def test_names_that_only_look_like_torch_cuda_are_left() -> None:
    source = ("torch = load_plugin()\ntorch.cuda.synchronize()\n"
              "def f(torch):\n    return torch.cuda.Event()\n"
              "class A:\n    cuda = None\nA.cuda.synchronize()\n")
    output, outcome = port(source)
    assert output == source and not outcome.findings


def test_composes_with_autocast_and_import_torch_npu() -> None:
    source = ("import torch\nfrom torch.cuda.amp import autocast, GradScaler\n"
              "scaler = GradScaler()\nwith autocast():\n    torch.cuda.synchronize()\n")
    output, _ = port(source, select=())
    # NPU003 moves autocast, NPU010 GradScaler, out of the same import line
    assert output == ("import torch\nimport torch_npu\nfrom torch.amp import GradScaler\n"
                      "from torch.amp import autocast\n"
                      'scaler = GradScaler("npu")\nwith autocast("npu"):\n'
                      "    torch.npu.synchronize()\n")
