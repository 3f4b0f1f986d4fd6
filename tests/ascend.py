"""Running a snippet before and after its port: the source on this CPU host (where torch.cuda
has no device, as on an Ascend host), the port on a simulated Ascend host (the NPU emulation:
``npu`` devices and ``import torch_npu`` exist, torch.cuda still has no device and raises as it
does there). A function that ran on the CPU before the port must not raise after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from covo_port.engines import FileOutcome, rewrite_file
from covo_port.model import Finding, RunOptions, get_target
from covo_port.registry import engine_config
from covo_port.verify.emulation import shim_path

ROOT = Path(__file__).resolve().parents[1]

_RUNNER = """\
import json, sys, types
emulate = sys.argv[2] == "npu"
if emulate:
    from covo_port.verify import emulation
    emulation.install()
import torch


def plain(value):
    if isinstance(value, torch.Tensor):
        return ["tensor", str(value.dtype), value.detach().cpu().tolist()]
    if isinstance(value, torch.dtype):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return repr(value)


module = types.ModuleType("snippet")
module.__file__ = sys.argv[1]
sys.modules["snippet"] = module
out = {}
try:
    exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"), module.__dict__)
except Exception as exc:
    out["<module>"] = {"raises": f"{type(exc).__name__}: {exc}"}
else:
    for call in json.loads(sys.argv[3]):
        try:
            out[call] = {"value": plain(eval(call, module.__dict__))}
        except Exception as exc:
            out[call] = {"raises": f"{type(exc).__name__}: {exc}"}
print(json.dumps(out))
"""


@dataclass
class Run:
    ported: str
    findings: list[Finding]
    before: dict[str, Any]
    after: dict[str, Any]

    def raised_after_only(self) -> dict[str, str]:
        """The calls that ran on the CPU before the port and raise on the NPU after it."""
        return {call: result["raises"] for call, result in self.after.items()
                if "raises" in result and "raises" not in self.before.get(call, {})}


def port(source: str, path: str = "snippet.py", **options: Any) -> FileOutcome:
    config = engine_config(get_target("npu"), RunOptions(**options))
    return rewrite_file(path, textwrap.dedent(source).encode(), config)[1]


def _execute(code: str, folder: Path, calls: list[str], device: str) -> dict[str, Any]:
    script = folder / f"snippet_{device}.py"
    script.write_text(code)
    runner = folder / "runner.py"
    runner.write_text(_RUNNER)
    path = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    if device == "npu":
        path.insert(0, str(shim_path()))
    env = {k: v for k, v in os.environ.items() if not k.endswith("VISIBLE_DEVICES")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    proc = subprocess.run([sys.executable, str(runner), str(script), device, json.dumps(calls)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_before_and_after(source: str, calls: list[str], folder: Path,
                         modules: dict[str, str] | None = None, **options: Any) -> Run:
    """Port ``source``, then evaluate ``calls`` in the source on the CPU and in the port on the
    simulated Ascend host. ``modules``: other modules (name -> source) the snippet imports, as
    they are (stand-ins for third-party libraries; not ported)."""
    for name, text in (modules or {}).items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    code = textwrap.dedent(source)
    outcome = port(code, **options)
    assert outcome.error is None, outcome.error
    ported = outcome.output(code.encode()).decode()
    return Run(ported, outcome.findings, _execute(code, folder, calls, "cpu"),
               _execute(ported, folder, calls, "npu"))
