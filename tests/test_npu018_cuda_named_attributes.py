"""NPU018 beyond its examples: the rename is confined to one file of the tree."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from covo_port.cli import main

ATTENTION = (
    "from collections import namedtuple\n"
    "Kernels = namedtuple('Kernels', ['flash', 'math'])\n"
    "class Attention:\n"
    "    def __init__(self):\n"
    "        self.cuda_kernels = Kernels(False, True)\n"
    "    def pick(self):\n"
    "        return self.cuda_kernels\n"
)


def port(tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    src = tmp_path / "src"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["apply", str(src), "--out", str(out), "--no-patches",
                                       "--select", "NPU018"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_renamed_when_no_other_file_names_it(tmp_path: Path) -> None:
    out, _ = port(tmp_path, {"attn.py": ATTENTION, "other.py": "x = 1\n"})
    text = (out / "attn.py").read_text()
    assert "self.npu_kernels = Kernels(False, True)" in text
    assert "return self.npu_kernels" in text and "cuda" not in text


def test_left_and_reported_when_another_file_names_it(tmp_path: Path) -> None:
    out, output = port(tmp_path, {"attn.py": ATTENTION,
                                  "conf/default.yaml": "cuda_kernels: [flash]\n"})
    assert (out / "attn.py").read_text() == ATTENTION
    assert "attn.py:5:" in output and "other files of the project use the name" in output
