"""NPU011: integer device indices, device maps and run-time device templates."""

from __future__ import annotations

import libcst as cst

from covo_port.engines import FileOutcome

from .conftest import run_rules


def port(source: str, select: tuple[str, ...] = ("NPU011",),
         device_map: tuple[str, ...] = ()) -> tuple[str, FileOutcome]:
    outcome = run_rules(source, select=select, device_map=device_map)
    assert outcome.error is None, outcome.error
    output = outcome.output(source.encode()).decode()
    cst.parse_module(output)
    assert not run_rules(output, select=select, device_map=device_map).changed
    return output, outcome


def test_literal_indices_become_explicit_and_follow_the_map() -> None:
    output, outcome = port(
        "import torch\nx = x.to(2, non_blocking=True)\ny = torch.empty(1, device=0)\n"
        "model = DDP(model, device_ids=[1, 2], output_device=1)\n",
        device_map=("cuda:1=npu:0", "cuda:2=npu:1"))
    assert output == ('import torch\nx = x.to("npu:1", non_blocking=True)\n'
                      'y = torch.empty(1, device="npu:0")\n'
                      'model = DDP(model, device_ids=["npu:0", "npu:1"], output_device="npu:0")\n')
    assert not outcome.findings


def test_ids_stay_integers_without_a_map() -> None:
    source = "model = FSDP(model, device_id=0)\nmodel = DDP(model, device_ids=[0])\n"
    output, outcome = port(source)
    assert output == source and not outcome.findings


def test_templates() -> None:
    output, _ = port('a = f"cuda:{i:d}"\nb = "cuda:%s" % (i,)\nc = "cuda:{0}".format(i)\n'
                     'd = f"cuda:{i} is ready"\ne = "cuda:" + name\n')
    assert output == ('a = f"npu:{i:d}"\nb = "npu:%s" % (i,)\nc = "npu:{0}".format(i)\n'
                      'd = f"cuda:{i} is ready"\ne = "npu:" + name\n')


def test_computed_indices_are_reported_only_with_a_map() -> None:
    source = ("import torch\na = torch.device('cuda', rank)\nb = x.cuda(rank)\n"
              "torch.cuda.set_device(rank)\nm = DDP(m, device_ids=[rank], output_device=rank)\n")
    _, outcome = port(source)
    assert not outcome.findings
    _, outcome = port(source, device_map=("cuda:1=npu:0",))
    assert [f.line for f in outcome.findings] == [2, 3, 4, 5, 5]


def test_torch_device_index_is_mapped_once_with_npu001() -> None:
    output, outcome = port("import torch\nd = torch.device('cuda', 1)\n",
                           select=("NPU001", "NPU011"), device_map=("cuda:1=npu:0",))
    assert output == "import torch\nd = torch.device('npu', 0)\n"
    assert [c.rule for c in outcome.changes] == ["NPU001", "NPU001"]


def test_non_device_integers_are_left() -> None:
    source = "y = x.to(torch.float16)\nz = x.to(dtype)\nw = f(device_count=2)\nv = a.to(-1)\n"
    output, outcome = port(source)
    assert output == source and not outcome.findings
