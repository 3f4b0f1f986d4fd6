"""Jupyter notebooks (``.ipynb``): rewritten cell by cell, written back in their own layout.

The code cells are joined into one Python module, a marker comment before each, so that an
import in one cell resolves the names of the next (as the kernel runs them); the Python rules
rewrite that module once, and it is split back into its cells. IPython syntax that is not
Python is masked first (a ``pass`` with a marker in its place) and put back after: shell escapes
(``!cmd``) and ``%env NAME=value`` go through the shell rules instead (``!CUDA_VISIBLE_DEVICES=0
python train.py``, ``!nvidia-smi``); other magics (``%time x.cuda()``) and ``%%`` cell magics
are left as they are and reported where they hold a rule's trigger word, never skipped silently.

The JSON is written back with the indentation, key order and escaping that the file itself
uses (Jupyter's own: one space, sorted keys, UTF-8), found by writing the parsed notebook back
and comparing: a notebook in any other layout is not rewritten (it would be reformatted whole);
what would change in it is reported instead. Findings name the cell (``cell 3:``) and their line
within it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from covo_port.engines.config import EngineConfig
from covo_port.engines.outcome import FileOutcome
from covo_port.engines.python import rewrite_python
from covo_port.engines.shell import rewrite_shell
from covo_port.model import ENGINE_CODE, Finding, PythonRule, Rule, Severity

#: the markers' tag, made unique per notebook (see :func:`_tag`)
_TAG = "covo_port_nb"
_SHELL = re.compile(r"^(?P<indent>[ \t]*)!(?P<command>.*)$", re.S)
_ENV = re.compile(r"^(?P<indent>[ \t]*)%env[ \t]+(?P<assignment>[A-Za-z_]\w*=.*)$")
#: IPython-only lines: magics, shell escapes, `x = !ls`, `x = %time f()`, `obj?` help
_IPYTHON = re.compile(r"^[ \t]*([%!?]|[\w.]+[ \t]*=[ \t]*[%!]|[\w.]+\?{1,2}[ \t]*$)")
_BOM = "\ufeff"


@dataclass(frozen=True)
class _Magic:
    """An IPython line masked out of the Python module."""

    cell: int  # index in nb["cells"]
    line: int  # 1-based, within the cell
    text: str  # the line, without its line break
    indent: str
    shell: str | None  # the command the shell rules see (``!cmd``, ``%env``), else None


@dataclass
class _Layout:
    indent: int | None
    sort_keys: bool
    ensure_ascii: bool
    end: str
    bom: str

    def dump(self, notebook: dict[str, Any]) -> bytes:
        text = json.dumps(notebook, indent=self.indent, sort_keys=self.sort_keys,
                          ensure_ascii=self.ensure_ascii)
        return (self.bom + text + self.end).encode("utf-8")


def _layout(raw: str, notebook: dict[str, Any]) -> _Layout | None:
    """The json.dumps settings that write ``notebook`` back as ``raw``, byte for byte."""
    bom = _BOM if raw.startswith(_BOM) else ""
    body = raw[len(bom):]
    for indent in (1, 2, 4, None):
        for sort_keys in (True, False):
            for ensure_ascii in (False, True):
                text = json.dumps(notebook, indent=indent, sort_keys=sort_keys,
                                  ensure_ascii=ensure_ascii)
                for end in ("\n", "", "\r\n"):
                    if body == text + end:
                        return _Layout(indent, sort_keys, ensure_ascii, end, bom)
    return None


def _cell_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _tag(raw: str) -> str:
    """A marker tag that the notebook's own text does not hold, so that no line of a cell can
    be taken for a marker: ``covo_port_nb``, else ``covo_port_nb1``, ``covo_port_nb2``..."""
    n = 0
    while f"{_TAG}{n or ''}" in raw:
        n += 1
    return f"{_TAG}{n or ''}"


def _language(notebook: dict[str, Any]) -> str:
    metadata = notebook.get("metadata") or {}
    kernelspec, language_info = metadata.get("kernelspec"), metadata.get("language_info")
    kernel = kernelspec.get("language") if isinstance(kernelspec, dict) else None
    info = language_info.get("name") if isinstance(language_info, dict) else None
    return str(kernel or info or "python").lower()


class _Split:
    """A notebook's code cells as one Python module and one shell script, and back."""

    def __init__(self, notebook: dict[str, Any], path: str, triggers: Sequence[str],
                 tag: str) -> None:
        self.notebook = notebook
        self.path = path
        self._cell_mark = f"# {tag} cell {{}}\n"
        self._cell_split = re.compile(rf"^# {tag} cell (\d+)\n", re.M)
        self._magic_mark = f"pass  # {tag} magic {{}}"
        self._magic_line = re.compile(rf"^[ \t]*pass  # {tag} magic (\d+)$")
        #: the lines after an IPython line continued with ``\`` (part of it, not Python)
        self._continued = f"# {tag} continued"
        self.magics: list[_Magic] = []
        self.findings: list[Finding] = []
        self.code: list[int] = []  # indices of the cells in the module
        self.starts: dict[int, int] = {}  # cell index -> module line of its first line
        self.newline: dict[int, bool] = {}  # whether the cell's text ends with a line break
        module: list[str] = []
        for index, cell in enumerate(notebook.get("cells", [])):
            if cell.get("cell_type") != "code":
                continue
            text = _cell_text(cell)
            if text.lstrip().startswith("%%"):
                if any(word in text for word in triggers):
                    magic = text.lstrip().split(None, 1)[0]
                    self.findings.append(Finding(
                        ENGINE_CODE, path, 1, 1, Severity.WARNING,
                        f"cell {index + 1}: a {magic} cell is not Python: not rewritten; "
                        "check it by hand"))
                continue
            self.code.append(index)
            self.newline[index] = text.endswith("\n") or not text
            module.append(self._cell_mark.format(index))
            self.starts[index] = len(module) + 1
            lines = text.splitlines()
            number = 0
            while number < len(lines):
                size = 1
                if _IPYTHON.match(lines[number]):  # `!cmd \` + continuation lines: one command
                    while number + size < len(lines) and lines[number + size - 1].endswith("\\"):
                        size += 1
                line = "\n".join(lines[number:number + size])
                module.append(self._mask(index, number + 1, line, triggers) + "\n")
                module += [self._continued + "\n"] * (size - 1)
                number += size
        self.module = "".join(module)

    def _mask(self, cell: int, number: int, line: str, triggers: Sequence[str]) -> str:
        if not _IPYTHON.match(line):
            return line
        shell = _SHELL.match(line)
        env = _ENV.match(line)
        command = (shell.group("command") if shell else
                   f"export {env.group('assignment')}" if env else None)
        indent = (shell or env).group("indent") if (shell or env) else line[
            :len(line) - len(line.lstrip(" \t"))]
        self.magics.append(_Magic(cell, number, line, indent, command))
        if command is None and any(word in line for word in triggers):
            self.findings.append(Finding(
                ENGINE_CODE, self.path, number, len(indent) + 1, Severity.WARNING,
                f"cell {cell + 1}: IPython magic not rewritten: {line.strip()}; check it by hand"))
        return indent + self._magic_mark.format(len(self.magics) - 1)

    @property
    def script(self) -> str:
        return "".join(f"{m.shell}\n" for m in self.magics if m.shell is not None)

    def locate(self, line: int) -> tuple[int, int]:
        """(cell index, line within the cell) of a module line."""
        cell = max((i for i in self.code if self.starts[i] <= line),
                   key=lambda i: self.starts[i], default=self.code[0] if self.code else 0)
        return cell, max(1, line - self.starts.get(cell, 1) + 1)

    def locate_shell(self, line: int) -> tuple[int, int]:
        rows = [(m.cell, m.line + k) for m in self.magics if m.shell is not None
                for k in range(m.shell.count("\n") + 1)]
        return rows[min(max(line, 1), len(rows)) - 1]

    def join(self, module: str, script: str) -> dict[str, Any]:
        """The notebook with its code cells taken from ``module`` and shell lines from
        ``script`` (both as the rules left them)."""
        parts = self._cell_split.split(module)
        indices = [int(n) for n in parts[1::2]]
        if parts[0] or indices != self.code:
            raise ValueError("a rewrite moved the cell markers")
        shells = script.splitlines()
        commands, used = {}, 0
        for i, magic in enumerate(self.magics):
            if magic.shell is not None:  # a command continued with `\` is several lines
                size = magic.shell.count("\n") + 1
                if used + size > len(shells):
                    raise ValueError("a rewrite moved the shell lines")
                commands[i] = "\n".join(shells[used:used + size])
                used += size
        notebook = copy.deepcopy(self.notebook)
        for index, body in zip(indices, parts[2::2], strict=True):
            lines = []
            for line in body.splitlines():
                if line == self._continued:
                    continue  # put back with the line it continues
                marked = self._magic_line.match(line)
                lines.append(self._unmask(int(marked.group(1)), commands) if marked else line)
            text = "\n".join(lines) + ("\n" if lines and self.newline[index] else "")
            cell = notebook["cells"][index]
            old = _cell_text(self.notebook["cells"][index])
            if text != old:
                source = text.splitlines(keepends=True)
                cell["source"] = source if isinstance(cell.get("source"), list) else text
        return notebook

    def _unmask(self, k: int, commands: dict[int, str]) -> str:
        magic = self.magics[k]
        if magic.shell is None:
            return magic.text
        command = commands[k]
        if magic.shell.startswith("export "):
            if not command.startswith("export "):
                return magic.text
            return f"{magic.indent}%env {command[len('export '):]}"
        return f"{magic.indent}!{command}"


def _cumulative(stages: list[tuple[str, bytes]], order: dict[str, int],
                upto: int, initial: str) -> str:
    state = initial
    for rule, data in stages:
        if order[rule] <= upto:
            state = data.decode("utf-8", errors="surrogateescape")
    return state


def _malformed(notebook: Any) -> str | None:
    """Why ``notebook`` (parsed JSON) is not a notebook this engine can rewrite, if it is not."""
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return ("nbformat 3 (cells inside worksheets): convert it with `jupyter nbconvert "
                "--to notebook`" if isinstance(notebook, dict) and "worksheets" in notebook
                else "no list of cells")
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict):
            return f"cell {index + 1} is not an object (a {type(cell).__name__})"
        source = cell.get("source", "")
        if not (isinstance(source, str) or (
                isinstance(source, list) and all(isinstance(s, str) for s in source))):
            return f"cell {index + 1}: its source is neither text nor a list of lines"
    if not isinstance(notebook.get("metadata", {}), dict):
        return "its metadata is not an object"
    return None


def rewrite_notebook(source: bytes, path: str, rules: Sequence[type[Rule]],
                     config: EngineConfig) -> FileOutcome:
    """Run ``rules`` over a notebook's code; never raises for bad input."""
    try:
        raw = source.decode("utf-8")
        notebook = json.loads(raw.removeprefix(_BOM))
    except (UnicodeDecodeError, ValueError) as exc:
        return FileOutcome(error=f"not a notebook (invalid JSON: {exc}); copied unchanged")
    reason = _malformed(notebook)
    if reason is not None:
        return FileOutcome(findings=[Finding(ENGINE_CODE, path, 1, 1, Severity.WARNING,
                                             f"notebook not rewritten: {reason}")])
    if _language(notebook) != "python":
        return FileOutcome()
    python = [r for r in rules if issubclass(r, PythonRule)]
    shell_rules = [r for r in rules if r.handles_shell()]
    split = _Split(notebook, path, [w for r in rules for w in r.triggers], _tag(raw))
    py = rewrite_python(split.module.encode("utf-8"), path, python, config)
    if py.error is not None:
        cell, line = split.locate(py.error_line)
        return FileOutcome(error=f"cell {cell + 1}, line {line}: {py.error}", error_line=1,
                           findings=split.findings)
    sh = rewrite_shell(split.script.encode("utf-8"), path, shell_rules, config)
    outcome = FileOutcome(findings=list(split.findings))
    for result, locate in ((py, split.locate), (sh, split.locate_shell)):
        for change in result.changes:
            cell, line = locate(change.line)
            outcome.changes.append(replace(
                change, line=line, end_line=line + change.end_line - change.line,
                message=f"cell {cell + 1}: {change.message}"))
        for finding in result.findings:
            cell, line = locate(finding.line)
            outcome.findings.append(replace(finding, line=line,
                                            message=f"cell {cell + 1}: {finding.message}"))
        for suppressed in result.suppressed:
            cell, line = locate(suppressed.line)
            outcome.suppressed.append(replace(suppressed, line=line,
                                              message=f"cell {cell + 1}: {suppressed.message}"))
    if not py.stages and not sh.stages:
        return outcome
    layout = _layout(raw, notebook)
    if layout is None:
        for change in outcome.changes:
            outcome.findings.append(Finding(
                change.rule, path, change.line, change.column, Severity.WARNING,
                f"{change.message}: not rewritten: this notebook's JSON is not in Jupyter's "
                "layout, and writing it back would reformat the whole file"))
        outcome.changes.clear()
        return outcome
    order = {rule.id: i for i, rule in enumerate(rules)}
    for rule_id in sorted({r for r, _ in py.stages + sh.stages}, key=order.__getitem__):
        module = _cumulative(py.stages, order, order[rule_id], split.module)
        script = _cumulative(sh.stages, order, order[rule_id], split.script)
        try:
            data = layout.dump(split.join(module, script))
        except (ValueError, StopIteration, KeyError) as exc:
            return FileOutcome(error=f"internal error splitting the rewritten cells ({exc}); "
                               "copied unchanged", findings=split.findings)
        outcome.stages.append((rule_id, data))
    return outcome
