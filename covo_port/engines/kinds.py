"""Which engine's kind a file is, by its name and first bytes: cheap tests that need none of
the engines' parsers (each engine's parser is imported when it first reads a file)."""

from __future__ import annotations

import re

_REQUIREMENTS = re.compile(
    r"^(?:.*[-_.])?(?:requirements?|requirments?|reqs?|constraints?)(?:[-_.].*)?\.(?:txt|in)$",
    re.IGNORECASE)
_CONDA_HEAD = re.compile(rb"^dependencies:", re.MULTILINE)
_CONDA_CHANNELS = re.compile(rb"^(?:channels|name):", re.MULTILINE)

SHELLS = ("sh", "bash", "dash", "zsh", "ksh")


def is_shell_script(name: str, head: bytes) -> bool:
    """``*.sh``/``*.bash`` files, and files whose shebang names a POSIX shell."""
    if name.endswith((".sh", ".bash")):
        return True
    if not head.startswith(b"#!"):
        return False
    first = head.split(b"\n", 1)[0].decode("latin-1").split()
    if not first:
        return False
    program = first[0][2:].rsplit("/", 1)[-1] if len(first[0]) > 2 else ""
    if program == "env" and len(first) > 1:
        args = [a for a in first[1:] if not a.startswith("-")]
        program = args[0] if args else ""
    elif not program and len(first) > 1:
        program = first[1].rsplit("/", 1)[-1]
    return program in SHELLS


_SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml", ".ini": "ini",
             ".cfg": "ini", ".env": "env"}


def config_format(name: str) -> str | None:
    """The format of a file called ``name`` (``.env`` and ``.env.local`` are .env files)."""
    if name == ".env" or name.startswith(".env."):
        return "env"
    dot = name.rfind(".")
    return _SUFFIXES.get(name[dot:].lower()) if dot > 0 else None


def build_kind(name: str, head: bytes) -> str | None:
    """The kind of build file called ``name`` (first bytes ``head``), else None."""
    if name == "pyproject.toml":
        return "pyproject"
    if name == "setup.cfg":
        return "setup.cfg"
    if _REQUIREMENTS.match(name):
        return "requirements"
    if name.startswith(("Dockerfile", "Containerfile")) or name.endswith(
            (".dockerfile", ".Dockerfile", ".containerfile")):
        return "dockerfile"
    if name.endswith((".yml", ".yaml")) and (
            name.startswith(("environment", "conda"))
            or (_CONDA_HEAD.search(head) and _CONDA_CHANNELS.search(head))):
        return "conda"
    return None
