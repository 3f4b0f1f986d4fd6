"""Config files (NPU019, NPU020, the config engine): only the values' characters change, and
the rewritten file reads back, with the format's own library, as the original but for them."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from covo_port.engines import FileOutcome
from covo_port.model import ENGINE_CODE, FileKind, RunOptions, Severity, get_target
from covo_port.pipeline.run import apply_tree

from .conftest import run_rules


def port(text: str, path: str, *rules: str) -> tuple[str, FileOutcome]:
    outcome = run_rules(text, path=path, select=rules or ("NPU019", "NPU020"))
    assert outcome.error is None
    return outcome.output(text.encode()).decode(), outcome


def only_ranges_changed(before: str, after: str, outcome: FileOutcome) -> None:
    """``after`` is ``before`` with exactly the recorded changes' characters replaced."""
    lines = before.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    text, last = [], 0
    for change in sorted(outcome.changes, key=lambda c: (c.line, c.column)):
        start = starts[change.line - 1] + change.column - 1
        assert before[start:start + len(change.before)] == change.before
        text += [before[last:start], change.after]
        last = start + len(change.before)
    assert "".join([*text, before[last:]]) == after


YAML = """\
# training settings
device: cuda          # where the model runs
eval_device: 'cuda:1'
devices: [cuda:0, "cuda:1"]
dist:
  dist_backend: nccl
  init: env://
seed: 7
name: cuda experiment
"""


def test_yaml_values_become_npu_and_nothing_else_changes() -> None:
    output, outcome = port(YAML, "conf/train.yaml")
    only_ranges_changed(YAML, output, outcome)
    before, after = yaml.safe_load(YAML), yaml.safe_load(output)
    assert after["device"] == "npu" and after["eval_device"] == "npu:1"
    assert after["devices"] == ["npu:0", "npu:1"]
    assert after["dist"]["dist_backend"] == "hccl"
    for key in ("device", "eval_device", "devices"):
        after[key] = before[key]
    after["dist"]["dist_backend"] = "nccl"
    assert after == before
    assert "# where the model runs" in output and "'npu:1'" in output and '"npu:1"' in output
    assert not outcome.findings


def test_json_values_are_edited_inside_their_quotes() -> None:
    text = ('{\n    "model": {"device": "cuda:0", "layers": 12},\n'
            '    "ddp_backend": "nccl",\n    "note": "trained on cuda"\n}\n')
    output, outcome = port(text, "config.json")
    only_ranges_changed(text, output, outcome)
    before, after = json.loads(text), json.loads(output)
    assert after["model"]["device"] == "npu:0" and after["ddp_backend"] == "hccl"
    before["model"]["device"], before["ddp_backend"] = "npu:0", "hccl"
    assert after == before


def test_toml_values_keep_their_quoting_and_comments() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    text = ("[train]\ndevice = 'cuda'  # single quotes stay\nprocess_group_backend = \"nccl\"\n"
            "[[eval]]\nmap_location = \"cuda:3\"\nbatch = 8\n")
    output, outcome = port(text, "run.toml")
    only_ranges_changed(text, output, outcome)
    before, after = tomllib.loads(text), tomllib.loads(output)
    assert after["train"] == {"device": "npu", "process_group_backend": "hccl"}
    assert after["eval"] == [{"map_location": "npu:3", "batch": 8}]
    assert "'npu'  # single quotes stay" in output
    before["train"] = after["train"]
    before["eval"][0]["map_location"] = "npu:3"
    assert after == before


def test_ini_and_env_values() -> None:
    ini = "[run]\ndevice = cuda\nworkers: 4\n[dist]\nbackend=nccl\n"
    output, outcome = port(ini, "train.cfg")
    only_ranges_changed(ini, output, outcome)
    parser = configparser.ConfigParser()
    parser.read_string(output)
    assert parser["run"]["device"] == "npu" and parser["dist"]["backend"] == "hccl"
    assert parser["run"]["workers"] == "4"
    env = "# local\nexport DEVICE=cuda:0\nTRAIN_DEVICE='cuda'\nDIST_BACKEND=\"nccl\"\nX=1\n"
    output, outcome = port(env, ".env")
    only_ranges_changed(env, output, outcome)
    values = dotenv_values(stream=__import__("io").StringIO(output))
    assert values == {"DEVICE": "npu:0", "TRAIN_DEVICE": "npu", "DIST_BACKEND": "hccl",
                      "X": "1"}


def test_device_map_applies_to_config_values() -> None:
    outcome = run_rules("device: cuda:1\n", path="c.yaml", select=("NPU019",),
                        device_map=("cuda:1=npu:0",))
    assert outcome.output(b"device: cuda:1\n") == b"device: npu:0\n"


@pytest.mark.parametrize(("text", "path"), [
    ("device: |\n  cuda\n", "block.yaml"),
    ("train_device: &d cuda\neval_device: *d\n", "anchor.yaml"),
    ('{"device": "cuda\\u003a1"}\n', "escaped.json"),
    ('device = """cuda"""\n', "multi.toml"),
    ("[a]\ndevice =\n    cuda\n", "multi.ini"),
])
def test_values_not_written_as_they_are_are_reported(text: str, path: str) -> None:
    output, outcome = port(text, path, "NPU019")
    assert output == text
    assert outcome.findings and all("not rewritten" in f.message for f in outcome.findings)


def test_unknown_keys_and_other_libraries_are_reported_not_rewritten() -> None:
    text = ("backend_model: cuda\ntarget: cuda:0\nbuild_backend: nccl\n"
            "vllm:\n  device: cuda\nwhisper:\n  device: cuda\n  compute_type: int8\n"
            "deepspeed_config:\n  device: cuda\n")
    output, outcome = port(text, "serve.yaml")
    assert output.replace("build_backend: hccl", "build_backend: nccl") == text
    codes = sorted((f.line, f.rule) for f in outcome.findings)
    assert codes == [(1, "NPU019"), (2, "NPU019"), (5, "NPU020"), (7, "NPU020"),
                     (10, "NPU020")]


def test_ci_workflows_are_not_the_program() -> None:
    text = "jobs:\n  test:\n    strategy:\n      matrix:\n        device: [cuda, cpu]\n"
    output, outcome = port(text, ".github/workflows/test.yml")
    assert output == text
    assert [(f.rule, f.severity) for f in outcome.findings] == [("NPU020", Severity.INFO)]


def test_a_file_its_library_refuses_costs_only_that_file() -> None:
    for text, path in (("device: [cuda\n", "bad.yaml"), ('{"device": "cuda",}\n', "bad.json"),
                       ("device = cuda\n", "bad.toml"), ("device = cuda\n", "bad.ini")):
        output, outcome = port(text, path)
        assert output == text
        assert [(f.rule, f.severity) for f in outcome.findings] == [
            (ENGINE_CODE, Severity.WARNING)], path
        assert "copied unchanged" in outcome.findings[0].message
    outcome = run_rules(b"device: \xff cuda\n", path="latin.yaml")
    assert not outcome.changed and outcome.findings[0].rule == ENGINE_CODE
    vocabulary = json.dumps({"vocab": {f"token{i}": i for i in range(80_000)}, "device": "cuda"})
    outcome = run_rules(vocabulary, path="tokenizer.json")
    assert not outcome.changed
    assert [(f.rule, f.severity) for f in outcome.findings] == [(ENGINE_CODE, Severity.INFO)]


def test_suppression_comments_and_annotations() -> None:
    text = "device: cuda  # covo-port: ignore[NPU019]\naccelerator: gpu\ntrain_device: cuda\n"
    options = RunOptions(select=frozenset({"NPU019", "NPU020"}), annotate=True)
    from covo_port.engines import rewrite_file
    from covo_port.registry import engine_config

    config = engine_config(get_target("npu"), options)
    kind, outcome = rewrite_file("c.yaml", text.encode(), config)
    assert kind is FileKind.CONFIG
    output = outcome.output(text.encode()).decode()
    assert output == ("device: cuda  # covo-port: ignore[NPU019]\n"
                      "# covo-port: NPU020 accelerator: 'gpu': a Lightning setting; "
                      + output.split("a Lightning setting; ", 1)[1].split("\n", 1)[0] + "\n"
                      "accelerator: gpu\ntrain_device: npu\n")
    assert [s.rule for s in outcome.suppressed] == ["NPU019"]
    assert yaml.safe_load(output) == {"device": "cuda", "accelerator": "gpu",
                                      "train_device": "npu"}
    again = rewrite_file("c.yaml", output.encode(), config)[1]
    assert not again.changed


def test_bom_and_crlf_are_kept() -> None:
    text = "\ufeffdevice: cuda\r\nname: x\r\n"
    outcome = run_rules(text.encode(), path="c.yml", select=("NPU019",))
    assert outcome.output(text.encode()).decode() == "\ufeffdevice: npu\r\nname: x\r\n"


_KEYS = st.sampled_from(["device", "eval_device", "devices", "dist_backend", "name", "lr",
                         "backend_kind", "model", "x"])
_VALUES = st.sampled_from(["cuda", "cuda:1", "nccl", "cpu", "npu", "gloo", "hello world", 3,
                           0.5, True, None, "cuda:0,cuda:1"])
_TREES = st.recursive(_VALUES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=12)


def _expected(node: object, key: str | None = None) -> object:
    """What NPU019 makes of a loaded config: device keys' cuda values -> npu, backend keys'
    nccl -> hccl."""
    if isinstance(node, dict):
        return {k: _expected(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_expected(v, key) for v in node]
    if key in ("device", "eval_device", "devices") and node in ("cuda", "cuda:1"):
        return node.replace("cuda", "npu")
    if key in ("dist_backend", "backend_kind") and node == "nccl":
        return "hccl"
    return node


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=st.dictionaries(_KEYS, _TREES, min_size=1, max_size=5),
       flow=st.booleans(), indent=st.sampled_from([None, 2, 4]))
def test_any_yaml_or_json_config_reads_back_as_expected(tree: dict, flow: bool,
                                                        indent: int | None) -> None:
    for text, path, load in (
            (yaml.safe_dump(tree, default_flow_style=flow), "c.yaml", yaml.safe_load),
            (json.dumps(tree, indent=indent), "c.json", json.loads)):
        output, outcome = port(text, path, "NPU019")
        only_ranges_changed(text, output, outcome)
        assert load(output) == _expected(tree)
        assert not run_rules(output, path=path, select=("NPU019",)).changed


def test_apply_ports_config_files_in_a_tree(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "conf").mkdir(parents=True)
    (src / "conf" / "base.yaml").write_text("device: cuda\n")
    (src / "settings.json").write_text('{"dist_backend": "nccl"}\n')
    (src / "notes.txt").write_text("device: cuda\n")
    result = apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    assert (out / "conf" / "base.yaml").read_text() == "device: npu\n"
    assert (out / "settings.json").read_text() == '{"dist_backend": "hccl"}\n'
    assert (out / "notes.txt").read_text() == "device: cuda\n"
    kinds = {r.path: r.kind for r in result.manifest.files}
    assert kinds["conf/base.yaml"] is FileKind.CONFIG and kinds["notes.txt"] is FileKind.TEXT


def test_every_reported_value_of_the_table_has_a_trigger_word() -> None:
    """A file with a value the table names holds one of NPU020's trigger words (else the file
    would not even be read)."""
    from covo_port.lib.config_vocab import terms
    from covo_port.registry import get_rule

    triggers = [w.lower() for w in get_rule("NPU020").triggers]
    for kind in ("accelerator", "container", "attention-value", "attention-generic",
                 "attention-flag", "environment", "device-value"):
        for term in terms(kind):
            example = term.pattern.lower().replace("*", "x")
            assert any(word in example for word in triggers), term.pattern
