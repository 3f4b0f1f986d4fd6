"""The verify report for the people who sign a port off (issue 15): the changes the port made,
the operators per component, the decoded texts of both determinism runs (64 tokens, as the
reference compares), memory and the known issues, in English or (``--lang zh``) Chinese; and
each stage announced when it starts.

The end-to-end tests (marked ``slow``) share one ``verify --emulate npu`` run of the ported
demo tree with the tiny model (one module-scoped fixture); the others build a verification by
hand and run no model.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import string
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.cli.verify import VERIFY_NEEDS
from covo_port.model import RunOptions, Severity, get_target
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree
from covo_port.verify import lang, residual
from covo_port.verify.profiles.covo_audio import components, options, report, signoff, summaries
from covo_port.verify.zh import ZH

ROOT = Path(__file__).resolve().parents[1]
COVO_MINI = ROOT / "examples" / "covo_mini"
HAS_EXTRA = all(importlib.util.find_spec(m) is not None for m in VERIFY_NEEDS)
needs_extra = pytest.mark.skipif(not HAS_EXTRA, reason="the verify extra is not installed")
REPORT_MODULES = (residual, report, signoff, summaries)


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def templates() -> set[str]:
    """Every template the report modules pass to a Text: the literals of ``t("...")`` calls,
    and the tables whose entries reach ``t`` as values."""
    found: set[str] = set()
    for module in REPORT_MODULES:
        tree = ast.parse(Path(module.__file__ or "").read_text())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "t" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
    found |= {title for _, _, title in options.STAGES}
    found |= {label for label, _ in signoff.STEPS + signoff.DETERMINISM_STEPS}
    found |= set(components.COMPONENTS) | set(signoff.COMPATIBILITY.values())
    found |= {s.value for s in Severity}  # the findings' table
    return found


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_report_sentence_has_its_chinese_with_the_same_placeholders() -> None:
    used = templates()
    assert len(used) > 100
    missing = sorted(used - set(ZH))
    assert not missing, f"no Chinese for: {missing}"
    for english, chinese in ZH.items():
        assert fields(english) == fields(chinese), english
    assert not sorted(set(ZH) - used), "Chinese for sentences no report writes"


def test_text_translates_and_refuses_an_unknown_language() -> None:
    assert lang.Text("en")("Memory") == "Memory"
    assert lang.Text("zh")("Memory") == "内存"
    assert lang.Text("zh")("{count} change(s) by {rules} rule(s) in {files} file(s), from OUT's "
                           "manifest (`.covo-port/manifest.json`); {unsafe} of them unsafe fixes "
                           "applied on request.", count=3, rules=2, files=1, unsafe=0) \
        .startswith("2 条规则在 1 个文件中做了 3 处修改")
    with pytest.raises(ValueError, match="unknown report language 'fr'"):
        lang.Text("fr")


@pytest.mark.parametrize(("dotted", "component"), [
    ("transformers.models.qwen2.modeling_qwen2.Qwen2MLP.forward", components.LLM),
    ("transformers.models.whisper.modeling_whisper.WhisperEncoder.forward", components.ENCODER),
    ("covoaudio.modeling_covo_audio.log_mel_spectrogram", components.FRONT_END),
    ("covoaudio.modeling_covo_audio.AudioAdapter.forward", components.ADAPTER),
    ("covoaudio.modeling_covo_audio.CovoAudioForCausalLM.forward", components.GLUE),
    ("transformers.generation.utils.GenerationMixin._sample", components.GENERATION),
    ("token2wav.models.vocoder.Generator.forward", components.VOCODER),
    ("token2wav.modules.dit.DiT.forward", components.FLOW),
    ("token2wav.decode.Token2WavDecoder.decode", components.DECODER),
    ("torch.nn.modules.module.Module._call_impl", None),
])
def test_a_frame_names_its_component(dotted: str, component: str | None) -> None:
    assert components.classify(dotted) == component


def test_calls_no_frame_names_belong_to_the_step() -> None:
    scope = components.Scope()
    assert scope() == components.OTHER  # no step yet, no frame of the model
    scope.step = "weight_loading"
    assert scope() == components.BUILD
    scope.step = "determinism_run_2"
    assert scope() == components.GENERATION


# -- the report of a verification put together by hand ----------------------------------------


def hand_made(tmp_path: Path) -> options.Verification:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "run.py").write_text('import torch\n\nx = torch.zeros(2).to("cuda:0")\n')
    out = tmp_path / "out"
    apply_tree(src, out, get_target("npu"), RunOptions())
    v = options.Verification(options.VerifyOptions(out=out, emulate=True),
                             Manifest.read(out), started="2026-01-01 00:00:00 UTC")
    v.model = {"kind": "tiny", "model_dir": "/cache/tiny", "build": "cached"}
    v.stages = [options.new_stage(n) for n in range(1, 6)]
    for s in v.stages:
        s.status = "pass"
    v.stages[4].data = {"tokens": 64, "matched": 64, "limit": 64, "match_rate": 1.0,
                        "identical_text": True, "texts": ["Olá | mundo", "Olá | mundo"],
                        "runs": ["round 0", "determinism run 2"]}
    v.stages[4].summary = summaries.determinism(v.stages[4].data)
    v.recording = {
        "ops": [{"op": "aten::mm", "api": "torch.nn.functional.linear", "dtypes": ["bfloat16"],
                 "count": 40, "scope": components.LLM},
                {"op": "aten::neg", "api": "torch.Tensor.neg", "dtypes": ["bfloat16"],
                 "count": 4, "scope": components.LLM},
                {"op": "aten::stft", "api": "torch.stft", "dtypes": ["float32"], "count": 2,
                 "scope": components.FRONT_END},
                {"op": "aten::abs", "api": "torch.Tensor.abs", "dtypes": ["complex64"],
                 "count": 1, "scope": components.FRONT_END}],
        "refusals": [{"api": "torch.Tensor.abs", "dtypes": ["complex64"],
                      "reason": "complex abs is not supported", "hint": "use real**2 + imag**2",
                      "where": "covoaudio/modeling_covo_audio.py:247", "count": 1,
                      "scope": components.FRONT_END}],
        "cuda": [], "not_emulated": []}
    v.unlisted_dtypes = {"torch.Tensor.neg(bfloat16)": 4}
    v.memory = {"runtime": "emulate", "peak_rss": 3 * 2 ** 30,
                "steps": {"initialisation": {"rss": 2 ** 30}, "generation_round_0":
                          {"rss": 3 * 2 ** 30}}}
    return v


def test_report_has_what_the_reference_has_for_a_sign_off(tmp_path: Path) -> None:
    v = hand_made(tmp_path)
    md = report.render_markdown(v)
    for heading in ("## Changes the port made", "## Operator compatibility per component",
                    "## Memory", "## Known issues"):
        assert heading in md
    # the manifest's change, in the reference's "list of changes"
    assert "| NPU001 | cuda-device-strings | 1 | pkg/run.py |" in md
    assert "| pkg/run.py:3 | NPU001 | 'cuda:0' -> 'npu:0' |" in md
    # operators per component, the reference's three columns
    assert "| component | Ascend compatibility | note |" in md
    assert ("| audio front end (resampling, log-Mel) | ❌ not supported | 2 API(s), 3 call(s), "
            "dtypes complex64, float32: stft, Tensor.abs; refused: Tensor.abs (complex64) |") in md
    assert ("| LLM (Qwen2) | ⚠️ check on hardware | 2 API(s), 44 call(s), dtypes bfloat16: "
            "F.linear, Tensor.neg; dtype not in torch_npu's table: Tensor.neg(bfloat16) |") in md
    # both determinism runs' texts, and the reference's measure table
    assert "| Token match rate" not in md and "| token match rate | 100.0% (64/64 tokens) |" in md
    assert "| round 0 | 'Olá \\| mundo' |" in md and "| determinism run 2 | 'Olá \\| mundo' |" in md
    # memory: what was measured, and n/a where nothing can be
    assert "| peak resident memory of the inference process (host) | 3072.0 MiB |" in md
    assert "| peak NPU memory (`torch.npu.max_memory_allocated`) | n/a on the CPU emulation" in md
    assert "| model initialisation (`AutoModel.from_config` + `.to(device)`) | 1024.0 MiB | n/a |" \
        in md
    # the known issues met on the way
    issues = md[md.index("## Known issues"):md.index("## Findings from apply")]
    assert ("1. `torch.Tensor.abs` on complex64 is not supported on Ascend "
            "(covoaudio/modeling_covo_audio.py:247, audio front end (resampling, log-Mel)): "
            "complex abs is not supported use real**2 + imag**2") in issues
    assert "`torch.Tensor.neg(bfloat16)` ran 4 time(s) with a dtype" in issues
    assert "tiny random one" in issues and "NPU memory is not measured" in issues

    data = report.to_json(v)
    assert data["schema"] == 2
    assert data["changes"][0] == {"rule": "NPU001", "name": "cuda-device-strings", "count": 1,
                                  "unsafe": 0, "files": ["pkg/run.py"]}
    assert [(c["component"], c["compatibility"]) for c in data["components"]] == [
        (components.FRONT_END, "refused"), (components.LLM, "unlisted")]
    assert data["memory"]["peak_rss"] == 3 * 2 ** 30
    assert data["known_issues"][0].startswith("`torch.Tensor.abs` on complex64")
    json.dumps(data)


def test_report_in_chinese(tmp_path: Path) -> None:
    md = report.render_markdown(hand_made(tmp_path), "zh")
    for heading in ("## 环境", "## 主要修改点", "## 验证阶段", "## 5. 可复现性: 通过",
                    "## 各组件算子兼容性", "## 内存", "## 已知问题"):
        assert heading in md, heading
    assert "| 组件 | Ascend 兼容性 | 说明 |" in md
    assert "| 音频前端(重采样、log-Mel) | ❌ 不支持 |" in md
    assert "| Token 完全匹配率 | 100.0% (64/64 tokens) |" in md and "| 文本完全一致 | True |" in md
    assert "| 5 | 可复现性 | 通过 |" in md and "64/64 个 token 一致(100%),文本完全一致" in md
    assert "CPU 模拟下不适用" in md
    assert "'Olá \\| mundo'" in md  # what the model said is quoted as it is
    assert "Known issues" not in md and "Memory" not in md


def test_report_without_an_inference_says_what_was_not_measured(tmp_path: Path) -> None:
    v = hand_made(tmp_path)
    v.recording, v.memory, v.unlisted_dtypes = {}, {}, {}
    md = report.render_markdown(v)
    assert "Nothing recorded: stage 4 did not reach the NPU." in md
    assert "Not measured: stage 4 did not run." in md


# -- the command line ---------------------------------------------------------------------------


def ported(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "run.py").write_text("import torch\n")
    apply_tree(src, out, get_target("npu"), RunOptions())
    return out


def test_lang_without_report_is_one_line(tmp_path: Path) -> None:
    code, _, stderr = run_cli("verify", str(ported(tmp_path)), "--emulate", "npu",
                              "--lang", "zh")
    assert code == 2 and "--lang zh: the language of the report; give --report FILE" in stderr


def test_lang_is_an_option_of_the_covo_audio_profile(tmp_path: Path) -> None:
    code, _, stderr = run_cli("verify", str(ported(tmp_path)), "--emulate", "npu", "--tests",
                              "true", "--lang", "zh", "--report", str(tmp_path / "r.md"))
    assert code == 2 and "--lang: options of the Covo-Audio profile" in stderr


# -- end to end: one verify run under NPU emulation (slow) --------------------------------------


@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``verify --emulate npu --json --report zh.md --lang zh`` of the ported demo tree."""
    tmp = tmp_path_factory.mktemp("verify-report")
    out = tmp / "ported"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVO_PORT_CACHE", str(tmp / "cache"))
        assert run_cli("apply", str(COVO_MINI), "--out", str(out), "--no-patches")[0] == 0
        md = tmp / "zh.md"
        code, stdout, stderr = run_cli("verify", str(out), "--emulate", "npu", "--json",
                                       "--report", str(md), "--lang", "zh")
    return {"code": code, "data": json.loads(stdout), "stderr": stderr,
            "md": md.read_text(encoding="utf-8")}


@pytest.mark.slow
@needs_extra
def test_each_stage_is_announced_when_it_starts(verified: dict[str, Any]) -> None:
    assert verified["code"] == 0, verified["stderr"]
    lines = [line for line in verified["stderr"].splitlines() if line.startswith("stage ")]
    for number, _, title in options.STAGES:
        start = lines.index(f"stage {number}/5 {title}: running...")
        end = next(i for i, line in enumerate(lines)
                   if line.startswith(f"stage {number}/5 {title}: PASS"))
        assert start < end
    # stage 5 runs in stage 4's interpreter: announced when its first run starts, before 4 ends
    assert lines.index("stage 5/5 Determinism: running...") < next(
        i for i, line in enumerate(lines) if line.startswith("stage 4/5 Inference: PASS"))


@pytest.mark.slow
@needs_extra
def test_determinism_compares_64_tokens_and_shows_both_texts(verified: dict[str, Any]) -> None:
    determinism = verified["data"]["stages"][4]["data"]
    assert determinism["tokens"] == determinism["matched"] == determinism["limit"] == 64
    assert [len(ids) for ids in determinism["token_ids"]] == [64, 64]
    first, second = determinism["texts"]
    assert first and first == second
    md = verified["md"]
    assert "| Token 完全匹配率 | 100.0% (64/64 tokens) |" in md
    assert md.count(f"| {json.dumps(first)[1:-1]}") == 0  # texts are quoted with repr
    assert md.count(repr(first).replace("|", "\\|")) >= 2


@pytest.mark.slow
@needs_extra
def test_operators_are_judged_per_component(verified: dict[str, Any]) -> None:
    rows = {c["component"]: c for c in verified["data"]["components"]}
    for component in (components.FRONT_END, components.ENCODER, components.ADAPTER,
                      components.LLM, components.GENERATION, components.BUILD):
        assert component in rows, sorted(rows)
    assert "torch.stft" in dict(rows[components.FRONT_END]["apis"])
    assert "torch.nn.functional.scaled_dot_product_attention" in dict(
        rows[components.LLM]["apis"])
    assert all(c["compatibility"] in ("compatible", "unlisted") for c in rows.values())
    assert "## 各组件算子兼容性" in verified["md"]
    assert "| Whisper 音频编码器 |" in verified["md"]


@pytest.mark.slow
@needs_extra
def test_changes_memory_and_known_issues_are_reported(verified: dict[str, Any]) -> None:
    data, md = verified["data"], verified["md"]
    assert {"NPU001", "NPU004", "NPU005"} <= {c["rule"] for c in data["changes"]}
    assert "| covoaudio/modeling_covo_audio.py:247 | NPU004 |" in md
    memory = data["memory"]
    assert memory["runtime"] == "emulate"
    assert 50 * 2 ** 20 < memory["peak_rss"] < 64 * 2 ** 30  # the process's, in bytes
    assert {"initialisation", "generation_round_0"} <= set(memory["steps"])
    assert all(set(step) == {"rss"} for step in memory["steps"].values())  # no NPU figure
    assert "| 推理进程的常驻内存峰值(主机) |" in md and "CPU 模拟下不适用" in md
    assert any("tiny random one" in issue for issue in data["known_issues"])
    assert "## 已知问题" in md and "apply 有 2 条发现留给人工处理" in md
