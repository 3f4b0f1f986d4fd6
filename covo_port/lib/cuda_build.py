"""CUDA-only packages, package indexes, base images and build settings, with what to use on
Ascend (``covo_port/data/cuda_build.tsv``), for the build rules and the Python rules that read
the same packages from ``setup()``.

Package names are compared canonical (PEP 503: lowercase, runs of ``-_.`` as ``-``), URLs and
images lowercased; patterns are fnmatch patterns and the first matching row wins. A torch,
torchvision or torchaudio requirement is reported where it pins a CUDA build (``+cu121``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from covo_port.lib.datafiles import data_text
from covo_port.model import Requirement, Severity

_CUDA_LOCAL = re.compile(r"cu(?:da)?\d")
_CUDA_EXTRA = re.compile(r"cuda|gpu|cu\d")
_TORCH = {"torch", "pytorch"}
_TORCH_FAMILY = {"torchvision", "torchaudio", "torchtext", "torchdata"}


@dataclass(frozen=True)
class Advice:
    """One row of the table: what a match means on Ascend."""

    kind: str
    pattern: str
    severity: Severity
    advice: str


@cache
def rows(kind: str) -> tuple[Advice, ...]:
    """The rows of ``kind`` (package, conda, index, image, setting), in the table's order."""
    found = []
    for line in data_text("cuda_build.tsv").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        row_kind, pattern, severity, advice = line.split("\t")
        if row_kind == kind:
            found.append(Advice(row_kind, pattern, Severity(severity), advice))
    return tuple(found)


def _first(kind: str, text: str) -> Advice | None:
    return next((row for row in rows(kind) if fnmatchcase(text, row.pattern)), None)


def _local(version: str | None) -> tuple[str, str] | None:
    """(public version, local label) of a version with a CUDA local label (``2.1.0+cu121``)."""
    if not version:
        return None
    try:
        parsed = Version(version)
    except InvalidVersion:
        return None
    if parsed.local and _CUDA_LOCAL.search(parsed.local):
        return parsed.public, parsed.local
    return None


def _torch_advice(name: str, public: str) -> str:
    if name in _TORCH:
        return (f"on Ascend install torch {public} without the CUDA build (PyPI's wheel, or "
                f"download.pytorch.org/whl/cpu on x86) and torch-npu of the same version "
                f"(torch-npu {public}[.postN]) with the matching CANN toolkit")
    return (f"on Ascend install {name} {public} without the CUDA build; its operators run on "
            "the NPU through torch_npu")


def requirement_advice(requirement: Requirement) -> tuple[Severity, str] | None:
    """(severity, message) for a requirement that installs something CUDA-only, else None."""
    name = canonicalize_name(requirement.name)
    if requirement.manager == "conda":
        row = _first("conda", name)
        if row is not None:
            return row.severity, f"{requirement.text}: {row.advice}"
        if name in _TORCH and requirement.build and "cuda" in requirement.build.lower():
            return Severity.WARNING, (f"{requirement.text}: a CUDA build of pytorch; "
                                      + _torch_advice("torch", requirement.version or "<version>"))
    local = _local(requirement.version)
    if local is not None:
        public, label = local
        if name in _TORCH or name in _TORCH_FAMILY:
            return Severity.WARNING, (f"{requirement.text}: the CUDA build (+{label}); "
                                      + _torch_advice("torch" if name in _TORCH else name, public))
        return Severity.WARNING, (f"{requirement.text}: a CUDA build (+{label}): install the "
                                  "package's CPU or Ascend build")
    row = _first("package", name)
    if row is not None:
        return row.severity, f"{requirement.text}: {row.advice}"
    cuda_extras = [e for e in requirement.extras if _CUDA_EXTRA.search(e.lower())]
    if cuda_extras:
        return Severity.WARNING, (f"{requirement.text}: the [{', '.join(cuda_extras)}] extra "
                                  "installs the package's CUDA build: drop it on Ascend")
    if requirement.url is not None:
        advice = index_advice(requirement.url)
        if advice is not None:
            return Severity.WARNING, f"{requirement.text}: {advice}"
        if _CUDA_LOCAL.search(requirement.url.rsplit("/", 1)[-1].lower()):
            return Severity.WARNING, (f"{requirement.text}: a CUDA build's wheel: install the "
                                      "package's CPU or Ascend build")
    return None


def index_advice(url: str) -> str | None:
    """What a package index, find-links page or conda channel of CUDA builds means."""
    row = _first("index", url.strip().lower())
    return row.advice if row is not None else None


def image_advice(image: str) -> str | None:
    """What a CUDA container base image means."""
    row = _first("image", image.strip().lower())
    return row.advice if row is not None else None


def setting_advice(name: str) -> tuple[Severity, str] | None:
    """What a CUDA environment variable that a build file sets means."""
    row = _first("setting", name)
    return (row.severity, row.advice) if row is not None else None


#: Words of which one is in every build file that installs something of the table (the build
#: rules' triggers).
BUILD_TRIGGERS = ("cuda", "cu1", "nvidia", "gpu", "xformers", "flash", "triton", "bitsandbytes",
                  "tensorrt", "apex", "deepspeed", "vllm", "cupy", "mamba", "causal-conv1d",
                  "causal_conv1d", "gptq", "awq", "exllama", "liger", "unsloth", "nvml",
                  "gpustat", "GPUtil", "nvitop", "spconv", "transformer-engine",
                  "transformer_engine", "sageattention", "polygraphy", "dali", "cudnn", "nccl",
                  "magma", "pyg.org", "onnxruntime-training", "pycuda", "ctranslate2",
                  "faster-whisper", "faster_whisper")
