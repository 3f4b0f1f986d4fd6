"""What a build rule sees of a build or environment file (pip requirements, pyproject.toml,
setup.cfg, a conda environment, a Dockerfile): the packages it installs, the package indexes and
channels it names, its base images and the environment it sets. The build engine produces it with
each format's own parser; build rules report, they never rewrite."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    """A package the file installs."""

    #: The distribution name as written (``flash_attn``, ``pytorch-cuda``).
    name: str
    #: The requirement as written (``torch==2.1.0+cu121``), for messages.
    text: str
    line: int
    column: int = 1
    #: The version it pins (``==``/``===``, conda's ``=``), else None.
    version: str | None = None
    extras: tuple[str, ...] = ()
    #: A direct reference (``name @ URL``, a wheel or VCS link).
    url: str | None = None
    #: conda's build string (``py3.10_cuda12.1_cudnn8_0``).
    build: str | None = None
    #: "pip" or "conda"
    manager: str = "pip"


@dataclass(frozen=True)
class PackageIndex:
    """A package index, find-links page or conda channel the file installs from."""

    url: str
    #: How the file names it: ``--extra-index-url``, ``channels``, ``tool.poetry.source``...
    option: str
    line: int
    column: int = 1


@dataclass(frozen=True)
class BaseImage:
    """A container base image (a Dockerfile's ``FROM``)."""

    #: The image with the file's build arguments substituted where they have defaults.
    image: str
    line: int
    column: int = 1


@dataclass(frozen=True)
class BuildSetting:
    """An environment variable the file sets (a Dockerfile's ``ENV``)."""

    name: str
    value: str
    line: int
    column: int = 1
