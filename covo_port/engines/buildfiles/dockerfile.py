"""Dockerfiles (and Containerfiles), read with dockerfile-parse: base images (build arguments
substituted), ``ENV`` settings, and the packages that ``RUN pip install`` / ``conda install``
commands install (their words split as the shell splits them, with ``shlex``)."""

from __future__ import annotations

import io
import shlex
from typing import Any

from dockerfile_parse import DockerfileParser

from covo_port.engines.buildfiles.parts import INDEX_OPTIONS, BuildParts, conda_spec, pep508
from covo_port.engines.configfiles.base import ConfigParseError
from covo_port.model import BaseImage, BuildSetting, PackageIndex, Requirement

_SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")"}
#: pip install options that take a value (the value is not a requirement)
_PIP_VALUED = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target",
               "--prefix", "--root", "--platform", "--python-version", "--implementation",
               "--abi", "--src", "--upgrade-strategy", "--progress-bar", "--no-binary",
               "--only-binary", "-C", "--config-settings", "--global-option", "--log",
               "--cache-dir", "--timeout", "--retries", "--proxy", "--cert", "--client-cert",
               "--exists-action", "--report", "--python", "--trusted-host", "--hash",
               "--install-option", "--build-option", "--index-strategy", "--keyring-provider"}
_CONDA_VALUED = {"-n", "--name", "-p", "--prefix", "--file", "--repodata-fn", "--solver"}
_CONDA_CHANNEL = {"-c", "--channel"}
_PIPS = {"pip", "pip3"}
_CONDAS = {"conda", "mamba", "micromamba"}


def _name(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _commands(value: str) -> list[list[str]]:
    """The simple commands of a RUN instruction, as words."""
    lexer = shlex.shlex(value, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    try:
        for word in lexer:
            if word in _SEPARATORS:
                commands.append([])
            else:
                commands[-1].append(word)
    except ValueError:  # an unbalanced quote: the words read so far
        pass
    return [c for c in commands if c]


def _install_args(words: list[str]) -> tuple[str, list[str]] | None:
    """("pip" or "conda", the words after ``install``) of an install command."""
    for i, word in enumerate(words):
        name = _name(word)
        rest = words[i + 1:]
        if name in _PIPS or (name == "uv" and rest[:1] == ["pip"]):
            rest = rest[1:] if name == "uv" else rest
        elif name.startswith("python") and rest[:2] == ["-m", "pip"]:
            rest = rest[2:]
        elif name in _CONDAS:
            return ("conda", rest[1:]) if rest[:1] == ["install"] else None
        else:
            continue
        return ("pip", rest[1:]) if rest[:1] == ["install"] else None
    return None


class _Lines:
    """Where a word of an instruction is written (its first line holding the word)."""

    def __init__(self, text: str, first: int, last: int) -> None:
        self.lines = text.splitlines()[first - 1:last]
        self.first = first

    def find(self, word: str) -> tuple[int, int]:
        for number, line in enumerate(self.lines):
            column = line.find(word)
            if column >= 0:
                return self.first + number, column + 1
        return self.first, 1


def _install(parts: BuildParts, words: list[str], where: _Lines) -> None:
    found = _install_args(words)
    if found is None:
        return
    manager, args = found
    skip = False
    for i, word in enumerate(args):
        if skip:
            skip = False
            continue
        flag, eq, value = word.partition("=")
        if manager == "pip" and flag in INDEX_OPTIONS:
            url = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            skip = not eq
            parts.indexes.append(PackageIndex(url, INDEX_OPTIONS[flag], *where.find(url)))
        elif manager == "conda" and flag in _CONDA_CHANNEL:
            channel = value if eq else (args[i + 1] if i + 1 < len(args) else "")
            skip = not eq
            parts.indexes.append(PackageIndex(channel, "--channel", *where.find(channel)))
        elif word.startswith("-"):
            skip = not eq and flag in (_PIP_VALUED if manager == "pip" else _CONDA_VALUED)
        elif not word.startswith((".", "/", "$", "{")):
            line, column = where.find(word)
            requirement = (pep508(word, line, column) if manager == "pip"
                           else conda_spec(word, line, column))
            if requirement is None and "://" in word:
                requirement = Requirement("", word, line, column, url=word)
            if requirement is not None:
                parts.requirements.append(requirement)


def _settings(value: str, line: int) -> list[BuildSetting]:
    try:
        words = shlex.split(value)
    except ValueError:
        return []
    if words and "=" not in words[0]:  # the legacy form: ENV NAME value
        return [BuildSetting(words[0], " ".join(words[1:]), line)]
    return [BuildSetting(*word.split("=", 1), line) for word in words if "=" in word]


def read(text: str) -> BuildParts:
    try:
        parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8", "surrogateescape")))
        structure: list[dict[str, Any]] = parser.structure
        images = parser.parent_images
    except Exception as exc:  # a third-party parser: anything it raises refuses the file
        raise ConfigParseError(str(exc) or type(exc).__name__) from None
    parts = BuildParts()
    stages: set[str] = set()
    froms = iter(images)
    for instruction in structure:
        kind = instruction["instruction"]
        first, last = instruction["startline"] + 1, instruction["endline"] + 1
        for line in range(first, last + 1):
            parts.firsts[line] = first
        if kind == "FROM":
            image = next(froms, "")
            words = instruction["value"].split()
            if len(words) >= 3 and words[-2].lower() == "as":
                stages.add(words[-1].lower())
            if image and image != "scratch" and image.lower() not in stages:
                parts.images.append(BaseImage(image, first))
        elif kind == "ENV":
            parts.settings += _settings(instruction["value"], first)
        elif kind == "RUN":
            where = _Lines(text, first, last)
            for words in _commands(instruction["value"]):
                _install(parts, words, where)
    return parts


def comment_lines(text: str) -> dict[int, int]:
    """Each comment line -> the line of the instruction below it (suppression comments go on
    their own line above a Dockerfile instruction: ``#`` starts a comment only there)."""
    attach: dict[int, int] = {}
    pending: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(number)
        elif stripped:
            for comment in pending:
                attach[comment] = number
            pending = []
    return attach
