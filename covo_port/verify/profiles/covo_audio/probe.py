"""The runner's ``probe`` action (stage 2): the environment table, then every module of OUT's
``covoaudio`` and ``token2wav`` packages imported one by one."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import time
from pathlib import Path
from typing import Any

from covo_port.verify.profiles.covo_audio.runner_base import Record, describe

PACKAGES = ("covoaudio", "token2wav")


def _version(name: str) -> str | None:
    try:
        return str(importlib.import_module(name).__version__)
    except Exception:
        return None


def _cann_version() -> str | None:
    """CANN's version from the toolkit's install info, where a toolkit is installed."""
    roots = [os.environ.get(v) for v in ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")]
    roots.append("/usr/local/Ascend/ascend-toolkit/latest")
    for root in filter(None, roots):
        for info in sorted(Path(root).glob("*/ascend_toolkit_install.info")):
            for line in info.read_text(errors="replace").splitlines():
                if line.startswith("version="):
                    return line.partition("=")[2].strip()
    return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(runtime: str, device: str) -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_npu": None,
        "transformers": _version("transformers"),
        "torchaudio": _version("torchaudio"),
        "CANN": _cann_version(),
        "platform": platform.platform(),
    }
    cpu = f"{_cpu_name()}, {os.cpu_count()} cores"
    if runtime == "emulate":
        from covo_port import __version__

        env["torch_npu"] = f"emulated on the CPU by covo-port {__version__}"
        env["device"] = f"{device} emulated on the CPU ({cpu})"
    elif runtime == "torch_npu":
        env["torch_npu"] = _version("torch_npu")
        index = int(device.partition(":")[2] or 0)
        env["device"] = f"{device}: {torch.npu.get_device_name(index)}"
    else:
        env["device"] = f"cpu ({cpu})"
    return env


def package_modules(root: Path) -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if all(p.isidentifier() for p in parts):
                names.append(".".join(parts))
    return names


def action_probe(args: argparse.Namespace, record: Record, root: Path) -> None:
    record.data["environment"] = environment(args.runtime, args.device)
    record.data["missing"] = [p for p in PACKAGES if not (root / p).is_dir()]
    modules: list[dict[str, Any]] = []
    record.data["modules"] = modules
    for name in package_modules(root):
        record.step(f"import {name}")
        started = time.perf_counter()
        entry: dict[str, Any] = {"module": name}
        try:
            importlib.import_module(name)
        except Exception as exc:  # each module's failure is a row of the report
            entry["error"] = describe(exc, root)
        entry["seconds"] = round(time.perf_counter() - started, 3)
        modules.append(entry)
    record.step("done")
