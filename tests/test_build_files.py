"""Build and environment files (NPU201, NPU202, NPU203, the build engine): what they install
that needs CUDA is reported with the Ascend advice, at the line that says it; nothing is
rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from covo_port.engines import rewrite_file
from covo_port.engines.kinds import build_kind
from covo_port.lib.cuda_build import rows
from covo_port.model import ENGINE_CODE, FileKind, RunOptions, Severity, get_target
from covo_port.pipeline.run import apply_tree
from covo_port.registry import engine_config, get_rule

from .conftest import run_rules

RULES = ("NPU201", "NPU202", "NPU203")


def findings(text: str, path: str) -> list[tuple[int, str, str]]:
    """(line, rule, message) of each finding; the file must come out unchanged."""
    outcome = run_rules(text, path=path, select=RULES)
    assert outcome.error is None and not outcome.changed
    return sorted((f.line, f.rule, f.message) for f in outcome.findings)


@pytest.mark.parametrize(("name", "kind"), [
    ("requirements.txt", "requirements"), ("requirements-dev.txt", "requirements"),
    ("dev_requirements.in", "requirements"), ("requirments_cu118_py312.txt", "requirements"),
    ("extra-req.txt", "requirements"), ("constraints.txt", "requirements"),
    ("frequencies.txt", None), ("Dockerfile", "dockerfile"), ("Dockerfile.server", "dockerfile"),
    ("Dockerfile-uv", "dockerfile"), ("gpu.dockerfile", "dockerfile"),
    ("Containerfile", "dockerfile"), ("environment-cuda.yml", "conda"),
    ("pyproject.toml", "pyproject"), ("setup.cfg", "setup.cfg"), ("config.yaml", None),
])
def test_build_files_are_recognized_by_name(name: str, kind: str | None) -> None:
    assert build_kind(name, b"") == kind


def test_a_yaml_file_with_dependencies_and_channels_is_a_conda_environment() -> None:
    assert build_kind("env.yml", b"name: x\nchannels:\n  - nvidia\ndependencies:\n  - pip\n")
    assert build_kind("config.yml", b"model:\n  dependencies: []\n") is None


def test_requirements_file() -> None:
    text = ("--extra-index-url https://download.pytorch.org/whl/cu121\n"
            "-f https://data.pyg.org/whl/torch-2.1.0+cu121.html\n"
            "torch==2.1.0+cu121 ; python_version > '3.8'  # pinned\n"
            "torchaudio==2.1.0+cu121\n"
            "nvidia-cudnn-cu12==8.9.2.26 \\\n    --hash=sha256:abc\n"
            "flash_attn @ https://github.com/x/flash_attn-2.5.8+cu122torch2.3-cp310-linux_x86_64.whl\n"
            "git+https://github.com/NVIDIA/apex.git#egg=apex\n"
            "jax[cuda12]>=0.4\nnumpy\nthis is not a requirement ===\n")
    found = findings(text, "requirements.txt")
    lines = [(line, rule) for line, rule, _ in found]
    assert lines == [(1, "NPU201"), (2, "NPU201"), (3, "NPU201"), (4, "NPU201"), (5, "NPU201"),
                     (7, "NPU201"), (8, "NPU201"), (9, "NPU201"), (11, ENGINE_CODE)]
    messages = dict(((line, rule), message) for line, rule, message in found)
    assert "torch 2.1.0 without the CUDA build" in messages[3, "NPU201"]
    assert "torch-npu of the same version" in messages[3, "NPU201"]
    assert "torchaudio 2.1.0" in messages[4, "NPU201"]
    assert "CANN" in messages[5, "NPU201"]
    assert "npu_fusion_attention" in messages[7, "NPU201"]
    assert "apex" in messages[8, "NPU201"] and "[cuda12]" in messages[9, "NPU201"]


def test_torch_without_torch_npu_gets_an_info() -> None:
    outcome = run_rules("torch>=2.1\nnumpy\n", path="requirements.txt", select=("NPU201",))
    assert [(f.line, f.severity) for f in outcome.findings] == [(1, Severity.INFO)]
    assert not run_rules("torch>=2.1\ntorch_npu>=2.1\n", path="requirements.txt",
                         select=("NPU201",)).findings


def test_pyproject() -> None:
    text = ('[build-system]\nrequires = ["setuptools", "torch==2.1.0+cu118"]\n'
            "[project]\nname = 'x'\ndependencies = [\n  'numpy',\n  \"triton>=2.1\",\n]\n"
            "[project.optional-dependencies]\ngpu = ['bitsandbytes']\n"
            "[dependency-groups]\ndev = ['pytest', 'deepspeed']\n"
            "[tool.poetry.dependencies]\npython = '^3.10'\n"
            "vllm = {version = '0.4.0', optional = true}\n"
            "[[tool.poetry.source]]\nname = 'torch'\nurl = 'https://download.pytorch.org/whl/cu121'\n"
            "[[tool.uv.index]]\nurl = 'https://download.pytorch.org/whl/cu124'\n")
    lines = [(line, rule) for line, rule, _ in findings(text, "pyproject.toml")]
    assert lines == [(2, "NPU201"), (7, "NPU201"), (10, "NPU201"), (12, "NPU201"),
                     (15, "NPU201"), (18, "NPU201"), (20, "NPU201")]


def test_setup_cfg_and_setup_py() -> None:
    text = ("[metadata]\nname = x\n[options]\ninstall_requires =\n    numpy\n"
            "    # a comment line\n    xformers==0.0.23\n[options.extras_require]\n"
            "onnx = onnxruntime-gpu\n")
    lines = [(line, rule) for line, rule, _ in findings(text, "setup.cfg")]
    assert lines == [(7, "NPU201"), (9, "NPU201")]
    code = ("import setuptools\nREQS = ['flash-attn']\n"
            "setuptools.setup(\n    name='x',\n    install_requires=[\n        'numpy',\n"
            "        'cupy-cuda12x',\n    ],\n    extras_require={'q': ['auto-gptq']},\n)\n")
    lines = [(line, rule) for line, rule, _ in findings(code, "setup.py")]
    assert lines == [(7, "NPU203"), (9, "NPU203")]


def test_conda_environment() -> None:
    text = ("name: demo\nchannels:\n  - pytorch\n  - nvidia\n  - conda-forge\n"
            "dependencies:\n  - python=3.10\n  - pytorch=2.1.0=py3.10_cuda12.1_cudnn8_0\n"
            "  - pytorch-cuda=12.1\n  - nvidia::cuda-toolkit\n  - cudatoolkit>=11.8\n"
            "  - pip\n  - pip:\n    - --extra-index-url https://download.pytorch.org/whl/cu118\n"
            "    - onnxruntime-gpu\n    - numpy\n")
    lines = [(line, rule) for line, rule, _ in findings(text, "environment.yml")]
    assert lines == [(4, "NPU201"), (8, "NPU201"), (9, "NPU201"), (10, "NPU201"),
                     (11, "NPU201"), (14, "NPU201"), (15, "NPU201")]


def test_dockerfile() -> None:
    text = ("# syntax=docker/dockerfile:1\nARG CUDA=12.1.0\n"
            "FROM nvidia/cuda:${CUDA}-cudnn8-devel-ubuntu22.04 AS build\n"
            "ENV NVIDIA_VISIBLE_DEVICES=all TORCH_CUDA_ARCH_LIST=\"8.0;8.6\" LANG=C.UTF-8\n"
            "RUN apt-get update && apt-get install -y git && \\\n"
            "    pip install --no-cache-dir -r requirements.txt && \\\n"
            "    python -m pip install 'bitsandbytes>=0.41' \\\n"
            "        --extra-index-url https://download.pytorch.org/whl/cu121\n"
            "RUN conda install -y -c nvidia cuda-toolkit && pip install .\n"
            "FROM build AS final\nFROM ubuntu:22.04\nFROM pytorch/pytorch:latest\n")
    found = findings(text, "Dockerfile")
    lines = [(line, rule) for line, rule, _ in found]
    assert lines == [(3, "NPU202"), (4, "NPU202"), (4, "NPU202"), (7, "NPU201"),
                     (8, "NPU201"), (9, "NPU201"), (9, "NPU201"), (12, "NPU202")]
    assert "FROM nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04" in found[0][2]
    assert "ascend" in found[0][2] and "torch-npu" in found[0][2]


def test_a_file_its_parser_refuses_costs_only_that_file() -> None:
    outcome = run_rules("[project\ndependencies = ['xformers']\n", path="pyproject.toml",
                        select=RULES)
    assert not outcome.changed and [(f.rule, f.severity) for f in outcome.findings] == [
        (ENGINE_CODE, Severity.WARNING)]
    outcome = run_rules(b"xformers\n\xff\n", path="requirements.txt", select=RULES)
    assert not outcome.changed and outcome.findings[0].rule == ENGINE_CODE


def test_suppressions_and_annotations() -> None:
    text = ("FROM python:3.11\n# covo-port: ignore[NPU201]\nRUN pip install xformers \\\n"
            "      flash-attn\nRUN pip install triton\n")
    outcome = run_rules(text, path="Dockerfile", select=RULES)
    assert [(f.line, f.rule) for f in outcome.findings] == [(5, "NPU201")]
    assert len(outcome.suppressed) == 2
    config = engine_config(get_target("npu"), RunOptions(select=frozenset(RULES),
                                                         annotate=True))
    source = ("numpy\nxformers  # covo-port: ignore\n-r base.txt\ncupy-cuda12x \\\n"
              "  --hash=sha256:abc\n")
    kind, outcome = rewrite_file("requirements.txt", source.encode(), config)
    assert kind is FileKind.BUILD
    output = outcome.output(source.encode()).decode()
    assert output.startswith("numpy\nxformers  # covo-port: ignore\n-r base.txt\n"
                             "# covo-port: NPU201 cupy-cuda12x")
    assert not rewrite_file("requirements.txt", output.encode(), config)[1].changed


def test_apply_reports_build_files_and_copies_them(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "requirements.txt").write_text("xformers\n")
    (src / "Dockerfile").write_text("FROM nvidia/cuda:12.1.0-base-ubuntu22.04\n")
    result = apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    assert (out / "requirements.txt").read_text() == "xformers\n"
    kinds = {r.path: r.kind for r in result.manifest.files}
    assert kinds == {"requirements.txt": FileKind.BUILD, "Dockerfile": FileKind.BUILD}
    assert sorted(f.rule for f in result.manifest.findings) == ["NPU201", "NPU202"]


@pytest.mark.parametrize(("kind", "rule"), [("package", "NPU201"), ("conda", "NPU201"),
                                            ("index", "NPU201"), ("image", "NPU202"),
                                            ("package", "NPU203")])
def test_every_row_of_the_table_has_a_trigger_word(kind: str, rule: str) -> None:
    """A file that names a package (image...) of the table holds one of the rule's trigger
    words (else the file would not even be read)."""
    triggers = get_rule(rule).triggers
    for row in rows(kind):
        example = row.pattern.replace("[0-9]", "1").replace("*", "x")
        assert any(word.lower() in example for word in triggers), row.pattern
