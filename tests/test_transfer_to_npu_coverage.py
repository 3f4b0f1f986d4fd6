"""What covo-port covers of Huawei's runtime shim (transfer_to_npu), measured by running the rules.

The figures in docs/transfer_to_npu.md come from ``coverage_markdown()``: every one of the 142
names of torch_npu.npu.__all__ (what the shim makes reachable as torch.cuda.X) and every public
torch.cuda name of torch 2.9.1 is put through the rules, and the outcome (rewritten, reported,
left silent) is counted. Regenerate the block: ``python -m tests.test_transfer_to_npu_coverage``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from covo_port.lib.cuda_api import api_table, lookup, npu_all

from .conftest import run_rules

DOC = Path(__file__).resolve().parents[1] / "docs" / "transfer_to_npu.md"
# NPU010 and the rules it leaves torch.cuda names to.
CUDA_RULES = ("NPU010", "NPU003", "NPU006")


@dataclass(frozen=True)
class Outcome:
    name: str
    rewritten_by: tuple[str, ...]
    reported_by: tuple[str, ...]

    @property
    def kind(self) -> str:
        if "NPU010" in self.rewritten_by:
            return "rewritten"
        if "NPU010" in self.reported_by:
            return "reported"
        return "other rule" if self.rewritten_by or self.reported_by else "silent"

    @property
    def rules(self) -> str:
        return "/".join(sorted({*self.rewritten_by, *self.reported_by}))


@cache
def outcome(name: str, use: str = "call") -> Outcome:
    """Run the torch.cuda rules over a use (a call, or a reference) of ``torch.cuda.<name>``."""
    reference = f"torch.cuda.{name}"
    source = f"import torch\nvalue = {reference}{'()' if use == 'call' else ''}\n"
    result = run_rules(source, select=CUDA_RULES)
    assert result.error is None, result.error
    return Outcome(name, tuple(sorted({c.rule for c in result.changes})),
                   tuple(sorted({f.rule for f in result.findings})))


def torch_public_names() -> list[str]:
    """torch 2.9.1's public torch.cuda functions and classes (the table's top-level rows)."""
    return sorted(n for n, e in api_table().items()
                  if "." not in n and not n.startswith("_") and e.action != "namespace"
                  and e.target != "submodule")


def _count(outcomes: Iterable[Outcome]) -> dict[str, list[Outcome]]:
    by_kind: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_kind.setdefault(o.kind, []).append(o)
    return by_kind


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)"


def coverage_markdown() -> str:
    shim = [outcome(n) for n in npu_all()]
    shim_kinds = _count(shim)
    public = [outcome(n) for n in torch_public_names()]
    public_kinds = _count(public)
    table = api_table()
    others = shim_kinds.get("other rule", [])
    public_others = public_kinds.get("other rule", [])
    lines = [
        "### The 142 names of `torch_npu.npu.__all__`",
        "",
        "What transfer_to_npu makes reachable as `torch.cuda.X` (Ascend/pytorch 9e73e708), "
        "each put through the rules as a call `torch.cuda.X()`.",
        "",
        "| outcome | names |",
        "|---|---|",
        "| rewritten by NPU010 (`torch.npu.X`) | "
        f"{_share(len(shim_kinds.get('rewritten', [])), len(shim))} |",
        f"| left to the rule that owns them | {_share(len(others), len(shim))}: "
        + ", ".join(f"`{o.name}` ({o.rules})" for o in others) + " |",
        f"| reported by NPU010 | {len(shim_kinds.get('reported', []))} |",
        f"| silently left | {len(shim_kinds.get('silent', []))} |",
        "",
        "### torch 2.9.1's public `torch.cuda` names",
        "",
        "| outcome | names |",
        "|---|---|",
        "| rewritten by NPU010 | "
        f"{_share(len(public_kinds.get('rewritten', [])), len(public))} |",
        f"| left to the rule that owns them | {len(public_others)}: "
        + ", ".join(f"`{o.name}` ({o.rules})" for o in public_others) + " |",
        f"| reported by name (no NPU twin) | {len(public_kinds.get('reported', []))} |",
        f"| silently left | {len(public_kinds.get('silent', []))} |",
        "",
        "Reported by name, with what the finding says:",
        "",
        "| `torch.cuda.` name | severity | finding |",
        "|---|---|---|",
    ]
    reported = [n for n, e in sorted(table.items(), key=lambda kv: kv[0].lower())
                if e.action == "report"]
    for name in reported:
        entry = table[name]
        severity = entry.severity.value if entry.severity else "warning"
        lines.append(f"| `{name}` | {severity} | {entry.note} |")
    lines += [
        "",
        "Submodules: `memory`, `random`, `graphs` and `streams` members are torch.cuda's own "
        "(rewritten by name, e.g. `torch.cuda.memory.memory_allocated` -> "
        "`torch.npu.memory_allocated`); `amp.GradScaler`, `amp.custom_fwd`, `amp.custom_bwd` -> "
        "the `torch.amp` forms with `\"npu\"`; `amp.autocast` is NPU003's; the rows above with a "
        "submodule name cover all its members.",
        "",
    ]
    return "\n".join(lines)


def _doc_block() -> str:
    text = DOC.read_text()
    block = re.search(r"<!-- coverage:start -->\n(.*?)<!-- coverage:end -->", text, re.S)
    assert block, "docs/transfer_to_npu.md lost its coverage markers"
    return block.group(1)


# -- the figures ---------------------------------------------------------------------------------
def test_goal_95_percent_of_the_shim_names_rewritten_and_none_silent() -> None:
    shim = [outcome(n) for n in npu_all()]
    kinds = _count(shim)
    assert not kinds.get("silent"), [o.name for o in kinds.get("silent", [])]
    assert len(kinds.get("rewritten", [])) / len(shim) >= 0.95
    # What NPU010 does not rewrite, the rule named in the table handles.
    assert not kinds.get("reported")
    for o in kinds.get("other rule", []):
        entry = lookup([o.name])[0]
        assert entry.action == "rule" and o.rules == entry.target, o


def test_every_public_torch_cuda_name_is_rewritten_or_reported() -> None:
    public = [outcome(n) for n in torch_public_names()]
    assert len(public) == 113
    kinds = _count(public)
    assert not kinds.get("silent"), [o.name for o in kinds.get("silent", [])]
    for o in kinds.get("reported", []):
        assert o.reported_by == ("NPU010",)
        assert lookup([o.name])[0].action == "report"


def test_references_without_a_call_are_never_silent_either() -> None:
    names = [n for n in [*npu_all(), *torch_public_names()] if lookup([n])[0].action != "rule"]
    silent = [n for n in names if outcome(n, use="reference").kind == "silent"]
    assert not silent


def test_doc_block_is_generated_from_the_data() -> None:
    assert _doc_block() == coverage_markdown(), (
        "run `python -m tests.test_transfer_to_npu_coverage` to regenerate")


# -- one fixture per transfer_to_npu category ------------------------------------------------------
CATEGORIES = {
    "module rebinding (torch.cuda -> torch_npu.npu)": (
        "import torch\nfrom torch.cuda import Event\n"
        "torch.cuda.manual_seed_all(0)\nn = torch.cuda.device_count()\n",
        ["from torch_npu.npu import Event", "torch.npu.manual_seed_all(0)",
         "torch.npu.device_count()", "import torch_npu"],
    ),
    "tensor/module methods (.cuda, .to, is_cuda)": (
        "import torch\nx = x.cuda()\nm = m.to(0)\nok = x.is_cuda\n",
        ["x.npu()", 'm.to("npu:0")', "x.is_npu"],
    ),
    "factory device= arguments": (
        "import torch\na = torch.zeros(2, device='cuda')\nb = torch.ones(2, device=0)\n"
        "g = torch.Generator('cuda')\n",
        ["device='npu'", 'device="npu:0"', "torch.Generator('npu')"],
    ),
    "amp": (
        "import torch\nscaler = torch.cuda.amp.GradScaler()\n"
        "with torch.cuda.amp.autocast(dtype=torch.float16):\n    pass\n"
        "@torch.cuda.amp.custom_fwd\ndef f(ctx, x):\n    return x\n",
        ['torch.amp.GradScaler("npu")', 'torch.amp.autocast("npu", dtype=torch.float16)',
         '@torch.amp.custom_fwd(device_type="npu")'],
    ),
    "distributed": (
        "import torch.distributed as dist\nfrom torch.nn.parallel import "
        "DistributedDataParallel as DDP\n"
        "dist.init_process_group('nccl')\nok = dist.is_nccl_available()\n"
        "model = DDP(model, device_ids=[0], output_device=0)\n",
        ["init_process_group('hccl')", "dist.is_hccl_available()", "device_ids=[0]"],
    ),
    "profiler": (
        "import torch\nwith torch.profiler.profile(activities=["
        "torch.profiler.ProfilerActivity.CUDA]) as p:\n    p.step()\n",
        ["torch_npu.profiler.profile(", "torch_npu.profiler.ProfilerActivity.NPU"],
    ),
}


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_each_transfer_to_npu_category_is_ported(category: str) -> None:
    source, expected = CATEGORIES[category]
    result = run_rules(source)
    assert result.error is None
    output = result.output(source.encode()).decode()
    for snippet in expected:
        assert snippet in output, (snippet, output)
    assert not run_rules(output).changed


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    new = re.sub(r"(<!-- coverage:start -->\n).*?(<!-- coverage:end -->)",
                 lambda m: m.group(1) + coverage_markdown() + m.group(2), text, flags=re.S)
    DOC.write_text(new)
    print(f"{DOC}: coverage block {'updated' if new != text else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
