"""Jupyter notebooks: code cells rewritten together, shell escapes by the shell rules, magics
reported, the JSON written back in the notebook's own layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from covo_port.cli import main

from .conftest import run_rules


def cell(source: str | list[str], kind: str = "code") -> dict[str, Any]:
    lines = source if isinstance(source, list) else source.splitlines(keepends=True)
    made: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": lines}
    if kind == "code":
        made.update(execution_count=None, outputs=[{"name": "stdout", "output_type": "stream",
                                                     "text": ["cuda:0 is busy\n"]}])
    return made


def notebook(*cells: dict[str, Any], language: str = "python") -> dict[str, Any]:
    return {"cells": list(cells), "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": language,
                                        "name": "python3"}}}


def jupyter(nb: dict[str, Any]) -> bytes:
    """The bytes Jupyter (nbformat) writes for ``nb``."""
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sources(data: bytes) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(data)["cells"]]


def test_code_cells_are_one_module_and_everything_else_is_kept() -> None:
    nb = notebook(
        cell("# Porting test — ünïcode kept\n", "markdown"),
        cell("import torch\nmodel = torch.nn.Linear(2, 2)"),
        cell('device = torch.device("cuda:0")\nmodel = model.cuda()\nx = torch.zeros(2, '
             'device="cuda")'),
    )
    source = jupyter(nb)
    outcome = run_rules(source, path="demo.ipynb")
    output = outcome.output(source)
    assert output == jupyter(json.loads(output)), "written back in Jupyter's layout"
    assert sources(output) == [
        "# Porting test — ünïcode kept\n",
        "import torch\nimport torch_npu\nmodel = torch.nn.Linear(2, 2)",
        'device = torch.device("npu:0")\nmodel = model.npu()\nx = torch.zeros(2, device="npu")',
    ]
    after = json.loads(output)
    for before_cell, after_cell in zip(nb["cells"], after["cells"], strict=True):
        assert {k: v for k, v in before_cell.items() if k != "source"} == {
            k: v for k, v in after_cell.items() if k != "source"}, "outputs and metadata kept"
    assert after["cells"][2]["source"][-1].endswith('"npu")'), "no line break added at the end"
    lines = {(c.rule, c.line, c.message.split(":", 1)[0]) for c in outcome.changes}
    assert ("NPU001", 1, "cell 3") in lines and ("NPU001", 2, "cell 3") in lines
    assert run_rules(output, path="demo.ipynb").changes == [], "idempotent"


def test_shell_escapes_go_through_the_shell_rules_and_magics_are_reported() -> None:
    nb = notebook(cell(
        "%matplotlib inline\n"
        "!CUDA_VISIBLE_DEVICES=0 python train.py\n"
        "%env CUDA_VISIBLE_DEVICES=1\n"
        "!nvidia-smi\n"
        "%time y = torch.ones(1).cuda()\n"
        "for i in range(2):\n"
        "    !echo $i\n"
        "files = !ls\n"
        "import torch\n"
        "torch.cuda.synchronize()\n"))
    source = jupyter(nb)
    outcome = run_rules(source, path="nb.ipynb")
    assert sources(outcome.output(source)) == [
        "%matplotlib inline\n"
        "!ASCEND_RT_VISIBLE_DEVICES=0 python train.py\n"
        "%env ASCEND_RT_VISIBLE_DEVICES=1\n"
        "!nvidia-smi\n"
        "%time y = torch.ones(1).cuda()\n"
        "for i in range(2):\n"
        "    !echo $i\n"
        "files = !ls\n"
        "import torch\n"
        "import torch_npu\n"
        "torch.npu.synchronize()\n"]
    found = {(f.rule, f.line) for f in outcome.findings}
    assert ("NPU108", 4) in found, "nvidia-smi from a shell escape"
    magic = [f for f in outcome.findings if "IPython magic not rewritten" in f.message]
    assert [(f.line, f.message.split(":", 1)[0]) for f in magic] == [(5, "cell 1")]


def test_a_cell_magic_is_not_python_and_is_reported_where_it_matters() -> None:
    nb = notebook(cell("%%bash\nexport CUDA_VISIBLE_DEVICES=0\n"), cell("%%time\nx = 1\n"),
                  cell('import torch\nx = torch.ones(1, device="cuda")\n'))
    source = jupyter(nb)
    outcome = run_rules(source, path="nb.ipynb")
    out = sources(outcome.output(source))
    assert out[:2] == ["%%bash\nexport CUDA_VISIBLE_DEVICES=0\n", "%%time\nx = 1\n"]
    assert 'device="npu"' in out[2]
    assert [f.message for f in outcome.findings if "%%" in f.message] == [
        "cell 1: a %%bash cell is not Python: not rewritten; check it by hand"]


def test_a_notebook_in_another_layout_is_reported_not_reformatted() -> None:
    nb = notebook(cell('import torch\nx = torch.ones(1, device="cuda")\n'))
    source = (json.dumps(nb, indent=3) + "\n").encode()
    outcome = run_rules(source, path="nb.ipynb")
    assert outcome.output(source) == source and not outcome.changes
    assert any(f.rule == "NPU001" and "not in Jupyter's layout" in f.message
               for f in outcome.findings)


def test_other_layouts_that_round_trip_are_kept() -> None:
    nb = notebook(cell(['import torch\n', 'x = torch.ones(1, device="cuda")']))
    layouts: list[tuple[dict[str, Any], str]] = [
        ({"indent": 2}, "\n"),  # keys in the order written, not sorted
        ({"indent": 1, "sort_keys": True, "ensure_ascii": True}, ""),
    ]
    for layout, end in layouts:
        source = (json.dumps(nb, **layout) + end).encode()
        output = run_rules(source, path="nb.ipynb").output(source)
        assert output == (json.dumps(json.loads(output), **layout) + end).encode()
        assert json.loads(output)["cells"][0]["source"] == [
            "import torch\n", "import torch_npu\n", 'x = torch.ones(1, device="npu")']


def test_bad_and_foreign_notebooks() -> None:
    broken = b'{"cells": [ "cuda"'
    outcome = run_rules(broken, path="broken.ipynb")
    assert outcome.output(broken) == broken
    assert outcome.error is not None and outcome.error.startswith("not a notebook (invalid JSON")

    julia = jupyter(notebook(cell('x = CuArray(1) # "cuda"'), language="julia"))
    outcome = run_rules(julia, path="julia.ipynb")
    assert outcome.output(julia) == julia and not outcome.findings

    v3 = json.dumps({"worksheets": [{"cells": []}], "nbformat": 3, "cuda": 1}).encode()
    outcome = run_rules(v3, path="old.ipynb")
    assert outcome.output(v3) == v3
    assert "nbformat 3" in outcome.findings[0].message

    unparsable = jupyter(notebook(cell("import torch\n"), cell("x = (1,\n")))
    outcome = run_rules(unparsable + b"", path="bad.ipynb")
    assert outcome.error is not None and outcome.error.startswith("cell 2, line 1")


def test_apply_ports_notebooks_in_a_tree(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    untouched = jupyter(notebook(cell("print('hello')\n")))
    (src / "quiet.ipynb").write_bytes(untouched)
    (src / "train.ipynb").write_bytes(jupyter(notebook(cell("import torch\nm = m.cuda()\n"))))
    result = CliRunner().invoke(main, ["apply", str(src), "--out", str(tmp_path / "out"),
                                       "--no-patches", "--json"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "quiet.ipynb").read_bytes() == untouched
    assert "m = m.npu()" in "".join(
        json.loads((tmp_path / "out" / "train.ipynb").read_text())["cells"][0]["source"])
    check = CliRunner().invoke(main, ["apply", str(tmp_path / "out"), "--check"])
    assert check.exit_code == 0, check.output
