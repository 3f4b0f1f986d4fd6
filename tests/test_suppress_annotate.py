"""`# covo-port: ignore[...]` suppressions and `apply --annotate`, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import libcst as cst
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.engines import FileOutcome, rewrite_file
from covo_port.model import RunOptions, get_target
from covo_port.pipeline.manifest import Manifest
from covo_port.registry import engine_config

MODEL = '''import subprocess
import torch
import triton  # covo-port: ignore[NPU101]
import flash_attn


def spectrum(x):
    return torch.fft.fftshift(x.cuda())  # covo-port: ignore[NPU017,NPU001]


def spectrum2(x):
    return torch.fft.fftshift(x.cuda())  # covo-port: ignore


def gpus():
    out = subprocess.check_output(  # covo-port: ignore[NPU108]
        ["nvidia-smi", "-L"])
    more = subprocess.check_output(
        ["nvidia-smi", "-q"])  # covo-port: ignore[npu108]
    return out, more


def shifted(y):
    return f"""
{torch.fft.fftshift(y)}
"""


class Net:
    @torch.compile(mode="reduce-overhead")
    def forward(self, x):
        if x is None:
            return torch.fft.ifftshift(x)
        return x.cuda()
'''

SCRIPT = '''#!/bin/bash
CUDA_VISIBLE_DEVICES=0 python model.py  # covo-port: ignore[NPU002]
if true; then
    nvidia-smi -L
fi
echo start && \\
  nvidia-smi -q  # covo-port: ignore[NPU999]
'''


def run_rules(source: str, select: tuple[str, ...] = (), annotate: bool = False
              ) -> FileOutcome:
    options = RunOptions(select=frozenset(select), annotate=annotate)
    return rewrite_file("example.py", source.encode(), engine_config(get_target("npu"), options))[1]


def apply(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["apply", *args, "--json", "--no-patches", "-j", "1"],
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.py").write_text(MODEL)
    (src / "run.sh").write_text(SCRIPT)
    return src


def lines_of(data: dict, rule: str, path: str) -> list[int]:
    return sorted(f["line"] for f in data["findings"] if f["rule"] == rule and f["path"] == path)


def test_suppressions_switch_off_findings_and_rewrites_and_are_counted(tmp_path: Path) -> None:
    src = tree(tmp_path)
    code, data = apply(str(src), "--out", str(tmp_path / "out"))
    assert code == 0
    assert lines_of(data, "NPU101", "model.py") == []
    assert lines_of(data, "NPU102", "model.py") == [4]
    assert lines_of(data, "NPU017", "model.py") == [25, 33]  # 8 and 12 suppressed
    assert lines_of(data, "NPU108", "model.py") == []  # first line, and last line (any case)
    assert lines_of(data, "NPU108", "run.sh") == [4, 7]  # NPU999 names no rule
    [bad] = [f for f in data["findings"] if f["rule"] == "NPU000"]
    assert bad["path"] == "run.sh" and bad["line"] == 7 and "NPU999" in bad["message"]

    out = (tmp_path / "out" / "model.py").read_text()
    assert "return torch.fft.fftshift(x.cuda())  # covo-port: ignore[NPU017,NPU001]" in out
    assert "return torch.fft.fftshift(x.cuda())  # covo-port: ignore\n" in out
    assert "        return x.npu()\n" in out  # the line without a suppression is rewritten
    script = (tmp_path / "out" / "run.sh").read_text()
    assert script.splitlines()[1] == "CUDA_VISIBLE_DEVICES=0 python model.py  # covo-port: " \
        "ignore[NPU002]"

    suppressed = {(s["rule"], s["path"], s["line"], s["kind"]) for s in data["suppressed"]}
    assert suppressed == {
        ("NPU101", "model.py", 3, "finding"),
        ("NPU017", "model.py", 8, "finding"), ("NPU001", "model.py", 8, "change"),
        ("NPU017", "model.py", 12, "finding"), ("NPU001", "model.py", 12, "change"),
        ("NPU108", "model.py", 16, "finding"), ("NPU108", "model.py", 18, "finding"),
        ("NPU002", "run.sh", 2, "change"),
    }
    assert data["summary"]["suppressed"] == 8
    assert len(Manifest.read(tmp_path / "out").suppressed) == 8

    shown = CliRunner().invoke(main, ["apply", str(src), "--out", str(tmp_path / "o2"),
                                      "--no-patches", "-j", "1"])
    assert "suppressed: 8 (5 finding(s), 3 rewrite(s))" in shown.output


def test_a_bare_ignore_covers_every_rule_and_later_phases_see_no_suppressed_edit() -> None:
    source = "import torch\nx = torch.zeros(3).cuda()  # covo-port: ignore\n"
    outcome = run_rules(source)
    assert not outcome.changed  # neither .npu() nor NPU009's `import torch_npu`
    assert [s.rule for s in outcome.suppressed] == ["NPU001"]


def test_annotate_writes_comments_above_each_statement(tmp_path: Path) -> None:
    src = tree(tmp_path)
    out = tmp_path / "out"
    code, data = apply(str(src), "--out", str(out), "--annotate")
    assert code == 0
    text = (out / "model.py").read_text()
    lines = text.splitlines()
    cst.parse_module(text)

    def above(statement: str) -> list[str]:
        index = lines.index(statement)
        block = []
        while lines[index - 1].lstrip().startswith("# covo-port: "):
            index -= 1
            block.insert(0, lines[index])
        return block

    [flash] = above("import flash_attn")
    assert flash.startswith("# covo-port: NPU102 imports flash_attn: ")
    assert above("import triton  # covo-port: ignore[NPU101]") == []  # suppressed: no note
    # a finding inside a multi-line f-string: the note goes above the statement
    [fstring] = above('    return f"""')
    assert fstring.startswith("    # covo-port: NPU017 torch.fft.fftshift is on torch_npu")
    [compiled] = above('    @torch.compile(mode="reduce-overhead")')
    assert compiled.startswith('    # covo-port: NPU109 torch.compile(mode="reduce-overhead")')
    [nested] = above("            return torch.fft.ifftshift(x)")
    assert nested.startswith("            # covo-port: NPU017 torch.fft.ifftshift")
    assert above("        return x.npu()") == []  # a rewrite, no finding: no note

    script = (out / "run.sh").read_text().splitlines()
    assert script[3].startswith("    # covo-port: NPU108 runs nvidia-smi")
    assert script[4] == "    nvidia-smi -L"
    # never between a continued line and its continuation
    assert script[6].startswith("# covo-port: NPU108 runs nvidia-smi")
    assert script[7:9] == ["echo start && \\", "  nvidia-smi -q  # covo-port: ignore[NPU999]"]

    notes = [c for c in data["changes"] if c["annotation"]]
    assert {(c["rule"], c["path"]) for c in notes} == {
        ("NPU102", "model.py"), ("NPU017", "model.py"), ("NPU109", "model.py"),
        ("NPU108", "run.sh")}
    assert data["summary"]["annotations"] == len(notes) == 6
    assert all(c["before"] == "" and c["after"].startswith("# covo-port: ") for c in notes)


def test_annotations_show_in_diff_and_in_their_rule_commit(tmp_path: Path) -> None:
    src = tree(tmp_path)
    out = tmp_path / "out"
    apply(str(src), "--out", str(out), "--annotate")
    runner = CliRunner()
    diff = runner.invoke(main, ["diff", str(out), "--no-color"]).output
    assert "+# covo-port: NPU102 imports flash_attn: " in diff
    assert "+    # covo-port: NPU108 runs nvidia-smi" in diff
    commit = runner.invoke(main, ["diff", str(out), "--rule", "NPU109", "--no-color"]).output
    assert "NPU109: torch.compile modes/backends" in commit
    assert '+    # covo-port: NPU109 torch.compile(mode="reduce-overhead")' in commit
    assert "NPU102" not in commit.split("\n\n", 1)[1]


def test_a_second_annotate_run_on_out_changes_nothing(tmp_path: Path) -> None:
    src = tree(tmp_path)
    _, first = apply(str(src), "--out", str(tmp_path / "out"), "--annotate")
    _, second = apply(str(tmp_path / "out"), "--out", str(tmp_path / "again"), "--annotate")
    assert second["summary"]["changed"] == 0 and second["changes"] == []
    for name in ("model.py", "run.sh"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()

    # the annotations trigger nothing themselves: the same findings (at lines they shifted),
    # and the suppressions still in OUT suppress the same
    def per_rule(data: dict) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in data["findings"]:
            if finding["path"] != ".covo-port":  # OUT's manifest folder: not copied, said so
                counts[finding["rule"]] = counts.get(finding["rule"], 0) + 1
        return counts

    assert per_rule(second) == per_rule(first)
    assert second["summary"]["suppressed"] == first["summary"]["suppressed"]


def test_notes_go_above_decorators_headers_and_clauses() -> None:
    source = (
        "import torch\nimport triton\n"
        "@triton.jit\n"
        "def k(x):\n    pass\n"
        "if x:\n    pass\n"
        "elif torch.fft.fftshift(x).sum():\n    pass\n"
        "else:\n    y = 1\n"
    )
    outcome = run_rules(source, select=("NPU017", "NPU101"), annotate=True)
    text = outcome.output(source.encode()).decode()
    cst.parse_module(text)
    assert "# covo-port: NPU101 imports triton: " in text.splitlines()[1]
    assert text.splitlines()[3].startswith("# covo-port: NPU101 @triton.jit")
    assert text.splitlines()[4] == "@triton.jit"
    assert text.splitlines()[9].startswith("# covo-port: NPU017 torch.fft.fftshift")
    assert text.splitlines()[10] == "elif torch.fft.fftshift(x).sum():"
    again = run_rules(text, select=("NPU017", "NPU101"), annotate=True)
    assert not again.changed


def test_shell_here_documents_belong_to_their_command() -> None:
    script = ("cat <<'EOF' > run.py\nimport os; os.environ['CUDA_VISIBLE_DEVICES']\nEOF\n"
              "cat <<'EOF' > ok.py  # covo-port: ignore[NPU002]\n"
              "import os; os.environ['CUDA_VISIBLE_DEVICES']\nEOF\n")
    options = RunOptions(select=frozenset({"NPU002"}), annotate=True)
    outcome = rewrite_file("gen.sh", script.encode(), engine_config(get_target("npu"), options))[1]
    assert [(f.line, f.rule) for f in outcome.findings] == [(2, "NPU002")]
    assert [(s.line, s.kind) for s in outcome.suppressed] == [(5, "finding")]
    lines = outcome.output(script.encode()).decode().splitlines()
    assert lines[0].startswith("# covo-port: NPU002 CUDA_VISIBLE_DEVICES left as is")
    assert lines[1:4] == script.splitlines()[:3]  # the document itself is untouched


def test_only_comments_are_directives() -> None:
    source = ('import torch\n'
              'y = torch.fft.fftshift(x); s = "# covo-port: ignore[NPU017]"\n'
              'doc = """\n# covo-port: ignore\n"""; z = torch.fft.fftshift(x)\n')
    outcome = run_rules(source, select=("NPU017",))
    assert [f.line for f in outcome.findings] == [2, 5] and outcome.suppressed == []
