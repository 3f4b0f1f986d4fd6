"""Fix safety: an unsafe fix is reported with the edit it proposes, and applied only on request."""

from __future__ import annotations

import json
from pathlib import Path

import libcst as cst
import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.engines import rewrite_file
from covo_port.engines.config import EngineConfig
from covo_port.model import PythonRule, RunOptions, Safety, Severity, get_target
from covo_port.pipeline.manifest import Manifest


class _Guess(PythonRule, id="NPU999", name="test-guess", triggers=("guess",)):
    """renames guess() to certain()

    A rule whose one fix is unsafe (a guess), for these tests only.
    """

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "guess":
            self.replace(node, node.with_changes(value="certain"), "guess -> certain",
                         safety=Safety.UNSAFE)


def _run(unsafe: bool) -> tuple[str, list]:
    config = EngineConfig(get_target("npu"), RunOptions(unsafe_fixes=unsafe), (_Guess,),
                          frozenset({"NPU999"}))
    source = b"x = guess(1)\n"
    _, outcome = rewrite_file("m.py", source, config)
    return outcome.output(source).decode(), outcome.findings + outcome.changes


def test_an_unsafe_fix_is_proposed_not_applied() -> None:
    output, records = _run(unsafe=False)
    assert output == "x = guess(1)\n"
    (finding,) = records
    assert finding.severity is Severity.WARNING and "unsafe fix, not applied" in finding.message
    assert finding.fix is not None
    assert (finding.fix.before, finding.fix.after, finding.fix.line) == ("guess", "certain", 1)


def test_unsafe_fixes_applies_it_and_marks_the_change() -> None:
    output, records = _run(unsafe=True)
    assert output == "x = certain(1)\n"
    (change,) = records
    assert change.unsafe and change.after == "certain"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "run.py").write_text('import torch\nx = torch.zeros(2, device="cuda")\n')
    return root


def test_the_manifest_records_the_choice(src: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for flag, expected in (((), False), (("--unsafe-fixes",), True)):
        out = tmp_path / f"out{len(flag)}"
        result = runner.invoke(main, ["apply", str(src), "--out", str(out), "--no-patches",
                                      "--json", *flag])
        assert result.exit_code == 0, result.output
        manifest = Manifest.read(out)
        assert manifest.unsafe_fixes is expected
        assert manifest.fix_safety["NPU001"] == "safe"
        assert manifest.fix_safety["NPU101"] == "report"
        assert json.loads(result.output)["summary"]["unsafe_fixes_applied"] == 0
