"""NPU201: CUDA-only packages, CUDA builds of torch and CUDA wheel indexes reported in
requirements files, pyproject.toml, setup.cfg, conda environments and Dockerfiles."""

from __future__ import annotations

from packaging.utils import canonicalize_name

from covo_port.lib.cuda_build import BUILD_TRIGGERS, index_advice, requirement_advice
from covo_port.model import BuildSource, Category, Example, Rule, Safety, Severity

_TORCH = {"torch", "pytorch"}
_TORCH_NPU = {"torch-npu"}


class CudaPackages(Rule, id="NPU201", name="cuda-packages", category=Category.PACKAGES,
                   safety=Safety.REPORT, triggers=("torch", *BUILD_TRIGGERS)):
    """build files: CUDA-only packages, CUDA builds of torch and CUDA wheel indexes reported, with
    what to install on Ascend

    ## What it does

    Reports what a build file installs that needs CUDA: CUDA-only packages (flash-attn,
    xformers, triton, bitsandbytes, apex, TensorRT, cupy-cuda*, onnxruntime-gpu, nvidia-*,
    DeepSpeed, vLLM...), CUDA builds of torch (`torch==2.1.0+cu121`), CUDA wheel indexes and
    conda channels (`--extra-index-url .../whl/cu121`, `nvidia`), in pip requirements files,
    pyproject.toml (PEP 621, dependency groups, Poetry, uv and PDM indexes), setup.cfg, conda
    environment files and `RUN pip install` / `conda install` lines of Dockerfiles (setup.py
    is NPU203's). Each comes with what to install on Ascend. A torch requirement without
    torch-npu beside it gets an info finding.

    ## Why it breaks on Ascend

    An environment built from these files cannot run the ported code: CUDA-only packages
    either fail to build without nvcc or install kernels that the NPU cannot run, a
    `+cu121` torch wheel is a CUDA build, and the ported code imports torch_npu, which must
    match the installed torch version (torch-npu 2.1.0.postN for torch 2.1.0) and the CANN
    toolkit. Several of the packages have Ascend counterparts (onnxruntime-cann,
    triton-ascend, vllm-ascend, Ascend's apex build, DeepSpeed's NPU accelerator); others
    have none and the code's portable path must be used. The packages and their advice are
    data: covo_port/data/cuda_build.tsv.

    ## Example

    ```text
    --extra-index-url https://download.pytorch.org/whl/cu121
    torch==2.1.0+cu121
    flash-attn>=2.5
    ```

    is reported (3 findings) and left as it is.

    ## Fix safety

    Report only: which NPU build to install depends on the user's torch, CANN and driver
    versions.
    """

    @classmethod
    def build(cls, file: BuildSource) -> None:
        names = {canonicalize_name(r.name) for r in file.requirements if r.name}
        for requirement in file.requirements:
            found = requirement_advice(requirement)
            if found is not None:
                severity, message = found
                file.report(cls, requirement.line, requirement.column, message, severity)
            elif (requirement.manager == "pip" and canonicalize_name(requirement.name) in _TORCH
                  and names.isdisjoint(_TORCH_NPU)):
                file.report(cls, requirement.line, requirement.column, (
                    f"{requirement.text}: the ported code imports torch_npu: install torch-npu "
                    "of the same version as torch (torch-npu X.Y.Z[.postN] for torch X.Y.Z) "
                    "with the matching CANN toolkit"), Severity.INFO)
        for index in file.indexes:
            advice = index_advice(index.url)
            if advice is not None:
                file.report(cls, index.line, index.column, f"{index.option} {index.url}: "
                            f"{advice}")

    examples = (
        Example(
            "--extra-index-url https://download.pytorch.org/whl/cu121\n"
            "torch==2.1.0+cu121\nflash-attn>=2.5  # fused attention\nnumpy\n",
            findings=3,
            path="requirements.txt",
        ),
        Example(
            "[project]\nname = 'demo'\ndependencies = [\n  \"torch>=2.1\",\n"
            "  \"xformers; sys_platform == 'linux'\",\n]\n"
            "[project.optional-dependencies]\ngpu = ['onnxruntime-gpu', 'cupy-cuda12x']\n",
            findings=4,
            path="pyproject.toml",
        ),
        Example(
            "name: demo\nchannels:\n  - pytorch\n  - nvidia\ndependencies:\n"
            "  - pytorch=2.1.0\n  - pytorch-cuda=12.1\n  - pip:\n    - triton==2.1.0\n",
            findings=3,
            path="environment.yml",
        ),
        Example(
            "FROM python:3.11-slim\n"
            "RUN pip install --no-cache-dir torch==2.3.1 \\\n"
            "        --index-url https://download.pytorch.org/whl/cu121 && \\\n"
            "    pip install xformers\n",
            findings=3,
            path="Dockerfile",
        ),
        Example(
            "[options]\ninstall_requires =\n    numpy\n    apex  # covo-port: ignore[NPU201]\n",
            path="setup.cfg",
        ),
        Example(
            "torch==2.1.0\ntorch-npu==2.1.0.post10\nnumpy>=1.24\n",
            path="requirements.txt",
        ),
    )
