"""`covo-port verify`: its stages, its report, its input errors, and full runs under emulation.

The end-to-end runs (marked ``slow``, part of the default run) port ``examples/covo_mini`` and
verify it on the CPU under NPU emulation with the tiny model; they need the verify extra and
skip cleanly without it. Their test clips are the ones verify synthesises where none are found
(the stand-in ships none), so they do not depend on the upstream's data.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.cli.verify import VERIFY_NEEDS
from covo_port.model import RunOptions, get_target
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree
from covo_port.registry import all_rules
from covo_port.verify import residual
from covo_port.verify.profiles.covo_audio import checks, clips, options, report, testdata, tiny

ROOT = Path(__file__).resolve().parents[1]
COVO_MINI = ROOT / "examples" / "covo_mini"
HAS_EXTRA = all(importlib.util.find_spec(m) is not None for m in VERIFY_NEEDS)
needs_extra = pytest.mark.skipif(not HAS_EXTRA, reason="the verify extra is not installed")

CODE = '''import torch


def run(x):
    # moved to cuda:0 below; this comment is not code
    model = torch.nn.Linear(2, 2).to("cuda:0")
    print("cuda is not needed for this message")
    return model(x.cuda())
'''


def port(src: Path, out: Path, select: tuple[str, ...] = ()) -> Manifest:
    apply_tree(src, out, get_target("npu"), RunOptions(select=frozenset(select)))
    return Manifest.read(out)


@pytest.fixture
def small_src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "run.py").write_text(CODE)
    return src


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# ---------------------------------------------------------------------------------------------
# Stage 1: residual scan
# ---------------------------------------------------------------------------------------------


def test_cuda_tokens_finds_code_not_comments_or_messages() -> None:
    source = (
        'import torch\n'
        'x = torch.ones(2).cuda()  # .cuda() in a comment\n'
        'y = x.to("cuda:1")\n'
        'z = f"cuda:{i}"\n'
        'msg = "cuda is not available"\n'
        'ok = x.to("npu:0")\n'
        'flag = x.is_cuda\n'
    )
    assert residual.cuda_tokens(source) == [
        (2, "cuda"), (3, "'cuda:1'"), (4, "f'cuda:{...}'"), (7, "is_cuda")]


def test_residual_scan_passes_a_full_port_and_lists_leftovers_of_a_partial_one(
        small_src: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    stage = residual.stage_residual(full, port(small_src, full))
    assert stage.passed, stage.error
    assert stage.data["pending_rewrites"] == 0 and stage.data["cuda_tokens"] == 0

    partial = tmp_path / "partial"
    stage = residual.stage_residual(partial, port(small_src, partial, select=("NPU002",)))
    assert not stage.passed
    where = {(d["path"], d["line"], d["rule"]) for d in stage.data["leftovers"]}
    assert ("pkg/run.py", 6, "NPU001") in where  # the pending rewrite of .to("cuda:0")
    assert ("pkg/run.py", 6, None) in where  # and the token scan's hit on the same line
    assert ("pkg/run.py", 8, None) in where  # x.cuda()
    assert not any(line == 5 for _, line, _ in where)  # the comment
    assert not any(line == 7 for _, line, _ in where)  # the message
    assert ("pkg/run.py", 1, "NPU009") in where  # and the import torch_npu it would add
    assert stage.error.startswith("3 rewrite(s) pending, 2 CUDA token(s) in code; first "
                                  "pkg/run.py:1: import torch_npu")


# ---------------------------------------------------------------------------------------------
# Stage 3 figures, test data, tiny model cache
# ---------------------------------------------------------------------------------------------


@needs_extra
def test_compare_gives_the_reference_figures() -> None:
    import numpy as np

    a = np.linspace(-1.0, 1.5, 1000).reshape(10, 100)
    same = checks.compare(a, a.copy())
    assert same["ok"] and same["max_abs_error"] == 0.0 and same["within_bf16_tolerance"] == 1.0
    assert math.isclose(same["cosine_similarity"], 1.0)

    b = a.copy()
    b[0, :10] += 0.5  # 1% of the values off by more than the bf16 tolerance
    off = checks.compare(a, b)
    assert not off["ok"]
    assert math.isclose(off["max_abs_error"], 0.5)
    assert math.isclose(off["mean_abs_error"], 0.005)
    assert math.isclose(off["within_bf16_tolerance"], 0.99)
    assert "1.000% of the values differ by 0.01 or more" in off["problem"]

    shapes = checks.compare(a, a[:, :50])
    assert not shapes["ok"] and "shapes differ" in shapes["problem"]


def test_test_audio_is_found_in_out_then_the_source_then_upstream_data(
        small_src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    manifest = port(small_src, out)
    data = tmp_path / "data"
    monkeypatch.setenv("COVO_PORT_UPSTREAM_DATA", str(data))
    assert testdata.upstream_data_dirs()[0] == data
    monkeypatch.setattr(testdata, "upstream_data_dirs", lambda: [data])  # not the checkout's
    assert testdata.find_test_audio(out, manifest) is None

    def write_clips(folder: Path, names: tuple[str, ...] = clips.ROUND_AUDIO) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / name).write_bytes(b"RIFF")

    write_clips(data / "testdata")
    assert testdata.find_test_audio(out, manifest) == (data / "testdata", "upstream data")
    write_clips(small_src / "testdata")
    assert testdata.find_test_audio(out, manifest) == (small_src / "testdata", "the source tree")
    write_clips(out / "testdata", clips.ROUND_AUDIO[:1])  # one clip is not enough
    assert testdata.find_test_audio(out, manifest) == (small_src / "testdata", "the source tree")
    write_clips(out / "testdata")
    assert testdata.find_test_audio(out, manifest) == (out / "testdata", "OUT")


def test_tiny_model_cache_is_keyed_by_the_manifest(
        small_src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVO_PORT_CACHE", str(tmp_path / "cache"))
    one, two, other = tmp_path / "one", tmp_path / "two", tmp_path / "other"
    port(small_src, one)
    port(small_src, two)
    port(small_src, other, select=("NPU002",))
    assert tiny.cache_dir(one) == tiny.cache_dir(two)
    assert tiny.cache_dir(one) != tiny.cache_dir(other)
    assert tiny.cache_dir(one).parent == tmp_path / "cache" / "verify"


def test_token2wav_config_is_shrunk_and_kept_consistent() -> None:
    flow = {"z_dim": 64, "spkr_embed_dim": 1024, "token_vocab_size": 16384,
            "transformer": {"num_layers": 12, "hidden_size": 1024}}
    big = {"model": {"token2latent": flow,
                     "wavegan": {"latent_dim": 64, "upsample_initial_channel": 1536,
                                 "downsample_channels": [12, 24, 48]}},
           "inference": {"s_steps": 10}}
    big["model"]["wavegan"] |= {"resblock_kernel_sizes": [3, 7, 11],
                                "resblock_dilation_sizes": [[1, 3, 5]] * 3}
    small = tiny.shrink_token2wav_config(big)
    flow = small["model"]["token2latent"]
    assert (flow["z_dim"], flow["spkr_embed_dim"]) == (16, 32)
    assert flow["transformer"] == {"num_layers": 2, "hidden_size": 64}  # absent keys stay absent
    assert flow["token_vocab_size"] == 16384  # the speech codes keep their range
    assert small["model"]["wavegan"] == {"latent_dim": 16, "upsample_initial_channel": 128,
                                         "downsample_channels": [12, 16, 16],
                                         "resblock_kernel_sizes": [3],
                                         "resblock_dilation_sizes": [[1, 3, 5]]}
    assert small["inference"] == {"s_steps": 2}
    assert big["model"]["token2latent"]["z_dim"] == 64  # the input is not modified
    mini = json.loads((COVO_MINI / "token2wav" / "config.json").read_text())
    expected = json.loads(json.dumps(mini))
    expected["inference"]["s_steps"] = 2
    assert tiny.shrink_token2wav_config(mini) == expected  # already tiny but for the steps


# ---------------------------------------------------------------------------------------------
# Command line: input errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("torch_npu") is not None,
                    reason="torch_npu is installed here")
def test_device_without_torch_npu_is_one_line_pointing_to_emulate(
        small_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    port(small_src, out)
    code, stdout, stderr = run_cli("verify", str(out), "--device", "npu:0")
    assert code == 2 and not stdout
    assert stderr.count("\n") == 1
    assert "torch_npu is not installed" in stderr and f"verify {out} --emulate npu" in stderr


@pytest.mark.parametrize("device", ["npu:x", "cuda:0", "npu"])
def test_malformed_device_is_one_line(small_src: Path, tmp_path: Path, device: str) -> None:
    out = tmp_path / "out"
    port(small_src, out)
    code, stdout, stderr = run_cli("verify", str(out), "--emulate", "npu", "--device", device)
    assert code == 2 and not stdout
    assert stderr.count("\n") == 1 and repr(device) in stderr


def test_out_without_manifest_is_one_line(tmp_path: Path) -> None:
    code, _, stderr = run_cli("verify", str(tmp_path), "--emulate", "npu")
    assert code == 2 and stderr.count("\n") == 1 and "not an output of `covo-port apply`" in stderr


@needs_extra
def test_model_dir_without_a_checkpoint_is_one_line(small_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    port(small_src, out)
    code, _, stderr = run_cli("verify", str(out), "--emulate", "npu", "--model-dir",
                              str(tmp_path))
    assert code == 2 and stderr.count("\n") == 1
    assert f"--model-dir {tmp_path}: expected config.json and *.safetensors" in stderr


# ---------------------------------------------------------------------------------------------
# Report rendering (no model run: a verification put together by hand)
# ---------------------------------------------------------------------------------------------


def test_report_renders_every_table_and_the_json_schema(small_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = port(small_src, out)
    opts = options.VerifyOptions(out=out, emulate=True, mode="a2ta")
    v = options.Verification(opts, manifest, started="2026-01-01 00:00:00 UTC")
    v.environment = {"python": "3.11.7", "torch": "2.9.1", "device": "npu:0 emulated"}
    v.model = {"kind": "tiny", "model_dir": "/cache/tiny", "build": "cached",
               "summary": {"llm": {"parameters": 10, "hidden_size": 64, "layers": 2,
                                   "encoder_d_model": 64, "encoder_layers": 2,
                                   "vocab_size": 168055}}}
    v.timings = {"initialisation": 1.5, "weight_loading": 0.25, "generation_round_0": 4.0,
                 "generation_round_1": 2.0, "audio_decode_round_0": 0.5}
    mk = options.new_stage
    v.stages = [mk(1), mk(2), mk(3), mk(4), mk(5)]
    for s in v.stages:
        s.status, s.summary = "pass", f"figures of {s.name}"
    v.stages[0].data = {"files_checked": 3, "python_files": 1, "pending_rewrites": 0,
                        "cuda_tokens": 0, "findings_for_review": 0, "leftovers": []}
    v.stages[2].data = {"audio": "testdata/003000298.wav", "n_mels": 128, "comparisons": [
        {"reference": "source, cpu", "other": "OUT, cpu", "max_abs_error": 1.812e-05,
         "mean_abs_error": 1.285e-07, "mean_relative_error": 1.224e-06,
         "cosine_similarity": 0.9999998, "within_bf16_tolerance": 1.0, "ok": True}]}
    wav = {"seconds": 0.64, "sample_rate": 24000, "finite": True, "peak": 0.1, "rms": 0.05,
           "problems": []}
    v.stages[3].data = {"weights": {"shards": 2, "tensors_loaded": 82, "never_loaded_count": 0,
                                    "unexpected_count": 0},
                        "rounds": [{"round": 0, "audio": "003000298.wav", "new_tokens": 16,
                                    "tokens_per_second": 4.0, "text": "a|b", "text_tokens": 3,
                                    "speech_codes": [1] * 13, "wav": wav}],
                        "timings": v.timings}
    v.stages[4].status, v.stages[4].error = "fail", "two greedy runs differ"
    v.stages[4].data = {"tokens": 16, "matched": 15, "match_rate": 15 / 16,
                        "identical_text": False, "texts": ["a", "b"], "sampling": "greedy"}

    md = report.render_markdown(v)
    assert md.startswith(f"# covo-port verify: `{out}`\n\n**FAIL**: 4/5 stages passed.")
    assert "not a performance model" in md
    assert "| Python | 3.11.7 |" in md and "| CANN | not present |" in md
    assert "| 5 | Determinism | FAIL |" in md and "- stage 5 (Determinism) failed: two greedy" in md
    assert ("| source, cpu vs OUT, cpu | 1.812e-05 | 1.285e-07 | 1.224e-06 | 0.9999998 | "
            "100.00% |") in md
    assert "| model initialisation (`AutoModel.from_config` + `.to(device)`) | 1.50 s |" in md
    assert ("| weight loading (2 safetensors shard(s), `load_state_dict(strict=False)`) "
            "| 0.25 s |") in md
    assert "| generation, round 0 | 4.00 s (16 tokens, 4.0 tokens/s) |" in md
    assert "'a\\|b'" in md  # pipes in generated text do not break the table
    assert "| token match rate | 93.8% (15/16 tokens) |" in md
    assert "| identical text | False |" in md and "| run | decoded text |" in md
    findings = md[md.index("## Findings from apply"):]
    assert "| pkg/run.py" not in findings and "None." in findings  # no finding table rows
    assert "| pkg/run.py:6 | NPU001 | 'cuda:0' -> 'npu:0' |" in md  # the port's changes

    data = report.to_json(v)
    assert set(data) == {
        "tool", "command", "schema", "version", "started", "seconds", "out", "target", "source",
        "device", "emulated", "mode", "max_new_tokens", "model", "audio", "environment", "stages",
        "timings", "op_stats", "unlisted_dtypes", "components", "changes", "memory",
        "known_issues", "findings", "passed", "exit_code"}
    assert (data["command"], data["passed"], data["exit_code"]) == ("verify", False, 1)
    assert data["max_new_tokens"] == 64  # the default, as the reference's determinism check
    assert [s["name"] for s in data["stages"]] == [n for _, n, _ in options.STAGES]
    assert set(data["stages"][0]) == {"number", "name", "title", "status", "passed", "seconds",
                                      "summary", "error", "data"}
    json.dumps(data)  # serialisable as it is


# ---------------------------------------------------------------------------------------------
# End to end under NPU emulation (slow)
# ---------------------------------------------------------------------------------------------


def readme_verify_recipe() -> list[list[str]]:
    """The ``covo-port`` command lines of the README's "Verifying the port" recipe."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Verifying the port"):]
    block = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert block, "README lost its verify recipe"
    lines = [shlex.split(line.partition("#")[0]) for line in block.group(1).splitlines()]
    return [words[1:] for words in lines if words and Path(words[0]).name == "covo-port"]


@pytest.fixture(scope="module")
def verify_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("verify-cache")


@pytest.mark.slow
@needs_extra
def test_readme_recipe_passes_all_five_stages_with_relative_paths_and_no_shared_data(
        tmp_path: Path, verify_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's recipe, verbatim, in a folder that holds only a copy of the demo tree:
    OUT is a relative path (resolved once, at the command line: issue 14, item 10) and no test
    clips exist anywhere (the data beside the checkout hidden: they are synthesised, item 11)."""
    monkeypatch.setenv("COVO_PORT_CACHE", str(verify_cache))
    monkeypatch.setattr(testdata, "upstream_data_dirs", lambda: [])
    shutil.copytree(COVO_MINI, tmp_path / "examples" / "covo_mini")
    monkeypatch.chdir(tmp_path)
    apply_args, verify_args = readme_verify_recipe()
    assert apply_args[:2] == ["apply", "examples/covo_mini"] and verify_args[0] == "verify"
    assert not Path(verify_args[1]).is_absolute()
    assert run_cli(*apply_args)[0] == 0
    out = Path(verify_args[1])
    assert not (out / "testdata" / clips.ROUND_AUDIO[0]).exists()
    md = Path(verify_args[verify_args.index("--report") + 1])
    code, stdout, _ = run_cli(*verify_args, "--json")
    data = json.loads(stdout)
    assert code == 0, [(s["name"], s["error"]) for s in data["stages"]]
    assert [s["status"] for s in data["stages"]] == ["pass"] * 5
    assert data["emulated"] and data["audio"]["origin"].startswith("synthesised by covo-port")
    assert data["out"] == str(out.resolve())
    assert data["model"]["kind"] == "tiny"

    equivalence = data["stages"][2]["data"]["comparisons"]
    assert [(c["reference"], c["other"]) for c in equivalence] == [
        ("source, cpu", "OUT, cpu"), ("OUT, cpu", "OUT, npu:0 (emulated)")]
    assert all(c["within_bf16_tolerance"] == 1.0 and c["cosine_similarity"] > 0.9999
               for c in equivalence)

    inference = data["stages"][3]["data"]
    assert [r["new_tokens"] for r in inference["rounds"]] == [64, 64]
    for r in inference["rounds"]:
        assert r["speech_codes"] and r["text"]  # the tiny model says and speaks something
        assert r["wav"]["sample_rate"] == 24000 and r["wav"]["finite"]
        assert r["wav"]["seconds"] > 0 and r["wav"]["peak"] > 1e-3
    assert inference["weights"]["never_loaded_count"] == 0
    assert {"initialisation", "weight_loading", "generation_round_0", "generation_round_1",
            "audio_decode_round_0", "audio_decode_round_1"} <= set(data["timings"])
    determinism = data["stages"][4]["data"]
    assert determinism["matched"] == determinism["tokens"] == 64
    assert data["op_stats"]  # the emulation saw the run

    text = md.read_text()
    for heading in ("## Environment", "## Stages", "## 3. Rewrite equivalence: PASS",
                    "## 4. Inference: PASS", "## 5. Determinism: PASS",
                    "## Findings from apply that still need a human"):
        assert heading in text
    assert "| generation, round 1 |" in text and "| audio decode, round 0 |" in text
    assert "| NPU015 | warning |" in text  # apply's findings for a human


@pytest.mark.slow
@needs_extra
def test_tiny_model_builds_are_identical(tmp_path: Path) -> None:
    from transformers import Qwen2TokenizerFast

    from covo_port.verify.emulation import shim_path

    out = tmp_path / "ported"
    assert run_cli("apply", str(COVO_MINI), "--out", str(out), "--no-patches")[0] == 0
    env = dict(os.environ, PYTHONPATH=str(shim_path()), PYTHONDONTWRITEBYTECODE="1")
    dests = [tmp_path / "tiny-1", tmp_path / "tiny-2"]
    # both builds in one interpreter, with OUT's classes: the second starts from whatever
    # random state the first left, so only the builder's own seeding makes them equal
    script = ("import sys; from pathlib import Path; from covo_port.verify import emulation;"
              " from covo_port.verify.profiles.covo_audio import tiny;"
              " emulation.install(); [tiny.build(Path(d), Path.cwd(), token2wav=True)"
              " for d in sys.argv[1:]]")
    subprocess.run([sys.executable, "-c", script, *map(str, dests)], cwd=out, env=env,
                   check=True, capture_output=True)
    builds = [{p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in d.rglob("*") if p.is_file()} for d in dests]
    assert builds[0] == builds[1]
    assert {"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            "tokenizer.json", "token2wav/config.json", "token2wav/model.pt",
            "token2wav/global_mean_var.npy", "token2wav/prompt/prompt_token.npy",
            "token2wav/prompt/prompt_latent.npy", "token2wav/prompt/speaker_embed.npy"
            } <= set(builds[0])
    tokenizer = Qwen2TokenizerFast.from_pretrained(str(tmp_path / "tiny-1"))
    assert len(tokenizer) == tiny.TEXT_VOCAB
    assert tokenizer.convert_tokens_to_ids(list(tiny.SPECIAL_TOKENS)) == list(
        tiny.SPECIAL_TOKENS.values())
    text = "你好，Covo"  # CJK characters are one token each, as in Qwen2's vocabulary
    assert len(tokenizer.encode(text)) == 7 and tokenizer.decode(tokenizer.encode(text)) == text


@pytest.mark.slow
@needs_extra
def test_covo_mini_without_the_complex_abs_rewrite_fails_on_complex_abs(
        tmp_path: Path, verify_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVO_PORT_CACHE", str(verify_cache))
    out = tmp_path / "unported"
    every_rule_but_npu004 = [arg for r in all_rules() if r.id != "NPU004"
                             for arg in ("--select", r.id)]
    code, _, _ = run_cli("apply", str(COVO_MINI), "--out", str(out), "--no-patches",
                         *every_rule_but_npu004)
    assert code == 0
    code, stdout, _ = run_cli("verify", str(out), "--emulate", "npu", "--mode", "a2t", "--json")
    assert code == 1
    by_name = {s["name"]: s for s in json.loads(stdout)["stages"]}
    assert by_name["import"]["status"] == "pass"
    residual = by_name["residual"]
    assert residual["status"] == "fail"
    assert [d["rule"] for d in residual["data"]["leftovers"]] == ["NPU004"]
    assert residual["data"]["leftovers"][0]["path"] == "covoaudio/modeling_covo_audio.py"
    for name in ("equivalence", "inference"):
        error = by_name[name]["error"]
        assert by_name[name]["status"] == "fail"
        assert "UnsupportedOnNPU" in error and "abs" in error and "complex" in error, error
        assert "modeling_covo_audio.py:" in error  # names the line
    assert by_name["determinism"]["error"] == "not run: stage 4 failed"


def upstream_checkout() -> Path | None:
    """The real Covo-Audio: ``$COVO_PORT_UPSTREAM``, or ``upstream/Covo-Audio`` after
    ``covo-port fetch``."""
    for candidate in (os.environ.get("COVO_PORT_UPSTREAM"), ROOT / "upstream" / "Covo-Audio"):
        if candidate and (Path(candidate) / "covoaudio").is_dir():
            return Path(candidate)
    return None


@pytest.mark.slow
@needs_extra
@pytest.mark.skipif(upstream_checkout() is None,
                    reason="no upstream checkout (set COVO_PORT_UPSTREAM or run covo-port fetch)")
def test_upstream_ported_passes_the_profile_and_unported_fails_on_complex_abs(
        tmp_path: Path, verify_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVO_PORT_CACHE", str(verify_cache))
    upstream = upstream_checkout()
    assert upstream is not None
    ported, unported = tmp_path / "ported", tmp_path / "unported"
    assert run_cli("apply", str(upstream), "--out", str(ported), "--no-patches")[0] == 0
    code, stdout, _ = run_cli("verify", str(ported), "--emulate", "npu", "--json")
    stages_run = json.loads(stdout)["stages"]
    assert code == 0, [(s["name"], s["error"]) for s in stages_run]

    every_rule_but_npu004 = [arg for r in all_rules() if r.id != "NPU004"
                             for arg in ("--select", r.id)]
    assert run_cli("apply", str(upstream), "--out", str(unported), "--no-patches",
                   *every_rule_but_npu004)[0] == 0
    code, stdout, _ = run_cli("verify", str(unported), "--emulate", "npu", "--json")
    assert code == 1
    by_name = {s["name"]: s for s in json.loads(stdout)["stages"]}
    for name in ("equivalence", "inference"):
        error = by_name[name]["error"]
        assert "UnsupportedOnNPU: torch.Tensor.abs on complex64" in error, error
        assert "covoaudio/modeling_covo_audio.py:" in error
