"""The architecture stays what the README's layout says: the import contract of pyproject.toml
(layers, rules independent of each other, no cycles), checked with import-linter on the tree as
it is installed (``rewrites/`` becomes ``covo_port.rewrites``), and modules of a readable size."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Modules may be longer than this only with a reason stated in their docstring.
MAX_LINES = 400


def installed_layout(dest: Path) -> Path:
    """The package as a wheel installs it: covo_port/ with rewrites/ as covo_port/rewrites/."""
    package = dest / "covo_port"
    shutil.copytree(ROOT / "covo_port", package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data"))
    shutil.copytree(ROOT / "rewrites", package / "rewrites",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def test_the_import_contract_holds(tmp_path: Path) -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (the dev extra installs it)")
    layout = installed_layout(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(layout)}
    proc = subprocess.run([str(lint), str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def _sources() -> list[Path]:
    return sorted(p for folder in ("covo_port", "rewrites") for p in (ROOT / folder).rglob("*.py")
                  if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small_or_say_why(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert "Longer than" in docstring, (
        f"{path.name}: {lines} lines; split it, or say in its docstring why it is longer than "
        f"{MAX_LINES} lines ('Longer than ... because ...')")
