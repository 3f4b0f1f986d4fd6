"""NPU012: the distributed backend, is_nccl_available, Backend.NCCL and NCCL_* variables."""

from __future__ import annotations

import libcst as cst

from covo_port.engines import FileOutcome
from covo_port.rewrites.npu012_distributed import env_message

from .conftest import run_rules


def port(source: str, path: str = "example.py") -> tuple[str, FileOutcome]:
    outcome = run_rules(source, path=path, select=("NPU012",))
    assert outcome.error is None, outcome.error
    output = outcome.output(source.encode()).decode()
    if path.endswith(".py"):
        cst.parse_module(output)
    assert not run_rules(output, path=path, select=("NPU012",)).changed
    return output, outcome


def test_backend_positions_and_keywords() -> None:
    output, outcome = port(
        "import torch\nimport torch.distributed as dist\n"
        "dist.init_process_group(backend='nccl' if torch.cuda.is_available() else 'gloo')\n"
        "g = dist.new_group([0, 1], None, 'nccl')\n"
        "b = torch.distributed.Backend('nccl')\n"
        "x = torch.distributed.Backend.NCCL\n"
        "trainer = Trainer(strategy=Strategy(process_group_backend='nccl'))\n")
    assert output == (
        "import torch\nimport torch.distributed as dist\n"
        "dist.init_process_group(backend='hccl' if torch.cuda.is_available() else 'gloo')\n"
        "g = dist.new_group([0, 1], None, 'hccl')\n"
        "b = torch.distributed.Backend('hccl')\n"
        "x = torch.distributed.Backend.HCCL\n"
        "trainer = Trainer(strategy=Strategy(process_group_backend='hccl'))\n")
    assert not outcome.findings
    assert all(c.rule == "NPU012" for c in outcome.changes)


def test_is_nccl_available_alias_keeps_the_local_name() -> None:
    output, _ = port("from torch.distributed import is_nccl_available as has_nccl\n"
                     "ok = has_nccl()\n")
    assert output == ("from torch_npu.distributed import is_hccl_available as has_nccl\n"
                      "ok = has_nccl()\n")


def test_uncertain_nccl_strings_are_reported_not_rewritten() -> None:
    source = "import subprocess\nsubprocess.run(['python', 'x.py', 'nccl'])\nNAME = 'nccl'\n"
    output, outcome = port(source)
    assert output == source
    assert [f.line for f in outcome.findings] == [2, 3]
    assert "'hccl'" in outcome.findings[0].message


def test_env_messages_name_the_hccl_counterpart() -> None:
    assert "TORCH_HCCL_ASYNC_ERROR_HANDLING" in env_message("TORCH_NCCL_ASYNC_ERROR_HANDLING")
    assert "HCCL_SOCKET_IFNAME" in env_message("NCCL_SOCKET_IFNAME")
    assert "no counterpart" in env_message("NCCL_P2P_DISABLE")


def test_shell_backend_options_and_variables() -> None:
    source = ("#!/bin/sh\n# NCCL_DEBUG in a comment is not reported\n"
              "export NCCL_P2P_DISABLE=1\n"
              "torchrun x.py --backend 'nccl' --ddp-backend=nccl --name nccl\n")
    output, outcome = port(source, path="train.sh")
    assert output == ("#!/bin/sh\n# NCCL_DEBUG in a comment is not reported\n"
                      "export NCCL_P2P_DISABLE=1\n"
                      "torchrun x.py --backend 'hccl' --ddp-backend=hccl --name nccl\n")
    assert [(f.line, f.message.split(" ")[0]) for f in outcome.findings] == [
        (3, "NCCL_P2P_DISABLE")]
