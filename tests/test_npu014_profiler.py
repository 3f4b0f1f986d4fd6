"""NPU014: torch.profiler -> torch_npu.profiler, only where the switch is safe."""

from __future__ import annotations

import libcst as cst

from covo_port.engines import FileOutcome

from .conftest import run_rules


def port(source: str, select: tuple[str, ...] = ("NPU014",)) -> tuple[str, FileOutcome]:
    outcome = run_rules(source, select=select)
    assert outcome.error is None, outcome.error
    output = outcome.output(source.encode()).decode()
    cst.parse_module(output)
    assert not run_rules(output, select=select).changed
    return output, outcome


def test_module_alias_and_profiler_action() -> None:
    output, outcome = port(
        "import torch.profiler as tp\n"
        "def my_schedule(step):\n    return tp.ProfilerAction.RECORD\n"
        "with tp.profile(activities=[tp.ProfilerActivity.CUDA], schedule=my_schedule) as p:\n"
        "    p.step()\n", select=("NPU014", "NPU009"))
    assert output == (
        "import torch.profiler as tp\nimport torch_npu\n"
        "def my_schedule(step):\n    return torch_npu.profiler.ProfilerAction.RECORD\n"
        "with torch_npu.profiler.profile(activities=[torch_npu.profiler.ProfilerActivity.NPU], "
        "schedule=my_schedule) as p:\n    p.step()\n")
    assert not outcome.findings


def test_handler_from_elsewhere_keeps_torch_profiler() -> None:
    source = ("import torch\nfrom tools import on_ready\n"
              "p = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA],\n"
              "                           on_trace_ready=on_ready)\n")
    output, outcome = port(source)
    assert output == source
    assert [f.line for f in outcome.findings] == [3, 3]
    assert "on_trace_ready handler from elsewhere" in outcome.findings[0].message


def test_keywords_torch_npu_lacks_keep_torch_profiler() -> None:
    source = ("import torch\n"
              "p = torch.profiler.profile(acc_events=True)\n"
              "q = torch.profiler.profile(experimental_config=cfg)\n")
    output, outcome = port(source)
    assert output == source and len(outcome.findings) == 2


def test_unknown_activity_is_reported() -> None:
    output, outcome = port("import torch\nacts = [torch.profiler.ProfilerActivity.XPU]\n")
    assert "XPU" in output and "no such activity" in outcome.findings[0].message


def test_record_function_and_other_names_stay() -> None:
    source = ("from torch.profiler import record_function, supported_activities\n"
              "with record_function('x'):\n    pass\n")
    output, outcome = port(source)
    assert output == source and not outcome.findings


def test_a_builtin_as_trace_handler_is_not_a_crash() -> None:
    source = ("import torch\nfrom torch.profiler import profile\n"
              "with profile(on_trace_ready=print) as p:\n    pass\n")
    outcome = run_rules(source, select=("NPU014",))
    assert outcome.error is None
    assert [(f.rule, f.line) for f in outcome.findings] == [("NPU014", 3)]
