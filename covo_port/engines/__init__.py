"""The engines, one per kind of file, behind one interface; :func:`rewrite_file` picks the
engine that claims a file and runs the rules that may match it.

An engine claims files by name and first bytes, narrows the run's rules to those that may
match the file's bytes (none: the file is not parsed at all) and rewrites the file into a
:class:`FileOutcome`. Files no engine claims are copied as they are. Claims and candidates need
no parser; the shell, build, config and notebook engines (and the libraries they read files
with: tree-sitter, ruamel.yaml, tomlkit, configupdater, pip-requirements-parser...) are imported
when a run first rewrites a file of their kind, so that a tree without such files never pays
for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from covo_port.engines.config import EngineConfig
from covo_port.engines.kinds import build_kind, config_format, is_shell_script
from covo_port.engines.outcome import FileOutcome
from covo_port.engines.python import MAX_PYTHON_BYTES, cheap, is_python, rewrite_python
from covo_port.engines.python.cheap import code_candidates, python_candidates
from covo_port.engines.python.verdict import Verdict, python_verdict
from covo_port.model import FileKind, PythonRule, Rule, Target

__all__ = ["ENGINES", "EngineConfig", "FileOutcome", "is_binary", "rewrite_file"]


class Engine(Protocol):
    """What every engine provides."""

    kind: FileKind

    def claims(self, name: str, head: bytes) -> bool:
        """Whether this engine rewrites a file of this name and first bytes."""
        ...

    def candidates(self, path: str, source: bytes,
                   config: EngineConfig) -> tuple[type[Rule], ...]:
        """The run's rules worth running on the file ``path`` of bytes ``source`` (none: the
        file is not parsed)."""
        ...

    def rewrite(self, source: bytes, path: str, rules: Sequence[type[Rule]],
                config: EngineConfig) -> FileOutcome:
        """The outcome of ``rules`` on the file; never raises for bad input."""
        ...


def _shell_candidates(source: bytes, rules: Sequence[type[Rule]],
                      target: Target) -> tuple[type[Rule], ...]:
    shells = tuple(r for r in rules if r.handles_shell())
    return shells if any(r.might_match(source, target) for r in shells) else ()


def _needed(path: str, config: EngineConfig) -> tuple[type[Rule], ...]:
    """The rules that must run on ``path`` whatever its text (``Rule.needed_in``)."""
    tree = config.tree
    if tree is None:
        return ()
    return tuple(r for r in config.rules if r.needs_tree and r.needed_in(path, tree))


def _union(order: Sequence[type[Rule]], *groups: Sequence[type[Rule]]) -> tuple[type[Rule], ...]:
    """The rules of ``groups``, once each, in the run's ``order``."""
    chosen = {r for group in groups for r in group}
    return tuple(r for r in order if r in chosen)


class PythonEngine:
    """Python files: the rules' trigger words in the raw bytes, then in the code alone (the
    cheap pass, on Python's own parse of the file, see engines.python.cheap), then libcst."""

    kind = FileKind.PYTHON

    def __init__(self) -> None:
        #: The parse verdict of the file that candidates() last looked at, for rewrite().
        self._verdict: tuple[bytes, Verdict] | None = None

    def claims(self, name: str, head: bytes) -> bool:
        return is_python(name, head)

    def candidates(self, path: str, source: bytes,
                   config: EngineConfig) -> tuple[type[Rule], ...]:
        self._verdict = None
        needed = _needed(path, config)
        rules = python_candidates(source, config.rules, config.target)
        if not rules or not cheap.FAST_PATHS or len(source) > MAX_PYTHON_BYTES:
            return _union(config.rules, rules, needed)
        verdict = python_verdict(source)
        self._verdict = (source, verdict)  # its tree serves the cheap pass and the rewrite
        if verdict.refusal is not None:
            return rules  # refused: rewrite() reports it
        chosen = _union(config.rules, code_candidates(source, verdict, rules, config.rules,
                                                      config.target), needed)
        if not chosen:
            self._verdict = None
        return chosen

    def rewrite(self, source: bytes, path: str, rules: Sequence[type[Rule]],
                config: EngineConfig) -> FileOutcome:
        known, self._verdict = self._verdict, None
        verdict = known[1] if known is not None and known[0] is source else None
        return rewrite_python(source, path, [r for r in rules if issubclass(r, PythonRule)],
                              config, verdict)


class ShellEngine:
    kind = FileKind.SHELL

    def claims(self, name: str, head: bytes) -> bool:
        return is_shell_script(name, head)

    def candidates(self, path: str, source: bytes,
                   config: EngineConfig) -> tuple[type[Rule], ...]:
        return _shell_candidates(source, config.rules, config.target)

    def rewrite(self, source: bytes, path: str, rules: Sequence[type[Rule]],
                config: EngineConfig) -> FileOutcome:
        from covo_port.engines.shell import rewrite_shell

        return rewrite_shell(source, path, rules, config)


def _hook_candidates(source: bytes, rules: Sequence[type[Rule]], target: Target,
                     handles: str) -> tuple[type[Rule], ...]:
    """The rules with hook ``handles`` (``handles_config``...), where one of them may match."""
    hooked = tuple(r for r in rules if getattr(r, handles)())
    return hooked if any(r.might_match(source, target) for r in hooked) else ()


class ConfigEngine:
    """YAML, JSON, TOML, INI/cfg and .env files (engines/configfiles)."""

    kind = FileKind.CONFIG

    def claims(self, name: str, head: bytes) -> bool:
        return config_format(name) is not None

    def candidates(self, path: str, source: bytes,
                   config: EngineConfig) -> tuple[type[Rule], ...]:
        return _hook_candidates(source, config.rules, config.target, "handles_config")

    def rewrite(self, source: bytes, path: str, rules: Sequence[type[Rule]],
                config: EngineConfig) -> FileOutcome:
        from covo_port.engines.configfiles import rewrite_config

        return rewrite_config(source, path, rules, config)


class BuildEngine:
    """Requirements files, pyproject.toml, setup.cfg, conda environments and Dockerfiles
    (engines/buildfiles)."""

    kind = FileKind.BUILD

    def claims(self, name: str, head: bytes) -> bool:
        return build_kind(name, head) is not None

    def candidates(self, path: str, source: bytes,
                   config: EngineConfig) -> tuple[type[Rule], ...]:
        return _hook_candidates(source, config.rules, config.target, "handles_build")

    def rewrite(self, source: bytes, path: str, rules: Sequence[type[Rule]],
                config: EngineConfig) -> FileOutcome:
        from covo_port.engines.buildfiles import rewrite_build

        return rewrite_build(source, path, rules, config)


class NotebookEngine:
    kind = FileKind.NOTEBOOK

    def claims(self, name: str, head: bytes) -> bool:
        return name.endswith(".ipynb")

    def candidates(self, path: str, source: bytes,
                   config: EngineConfig) -> tuple[type[Rule], ...]:
        python = python_candidates(source, config.rules, config.target)
        shell = _shell_candidates(source, config.rules, config.target)
        return tuple(r for r in config.rules if r in python or r in shell)

    def rewrite(self, source: bytes, path: str, rules: Sequence[type[Rule]],
                config: EngineConfig) -> FileOutcome:
        from covo_port.engines.notebook import rewrite_notebook

        return rewrite_notebook(source, path, rules, config)


#: In the order they are asked: the first that claims a file rewrites it (build files before
#: config files: pyproject.toml, setup.cfg and conda environments are both).
ENGINES: tuple[Engine, ...] = (NotebookEngine(), PythonEngine(), ShellEngine(), BuildEngine(),
                               ConfigEngine())


def is_binary(head: bytes) -> bool:
    return b"\0" in head


def rewrite_file(path: str, source: bytes, config: EngineConfig) -> tuple[FileKind, FileOutcome]:
    """(kind, outcome) for one file's bytes."""
    name = path.rsplit("/", 1)[-1]
    head = source[:8192]
    if is_binary(head):
        return FileKind.BINARY, FileOutcome()
    for engine in ENGINES:
        if engine.claims(name, head):
            rules = engine.candidates(path, source, config)
            if not rules:
                return engine.kind, FileOutcome()
            return engine.kind, engine.rewrite(source, path, rules, config)
    return FileKind.TEXT, FileOutcome()
