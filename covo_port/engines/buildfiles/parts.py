"""What a build file reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from covo_port.lib.requirements import conda_spec, pep508
from covo_port.model import BaseImage, BuildSetting, PackageIndex, Requirement

__all__ = ["INDEX_OPTIONS", "BuildParts", "conda_spec", "pep508"]

#: pip options that name an index (or a find-links page), as pip spells them
INDEX_OPTIONS = {"-i": "--index-url", "--index-url": "--index-url",
                 "--extra-index-url": "--extra-index-url", "-f": "--find-links",
                 "--find-links": "--find-links"}


@dataclass
class BuildParts:
    """What a build file installs and sets."""

    requirements: list[Requirement] = field(default_factory=list)
    indexes: list[PackageIndex] = field(default_factory=list)
    images: list[BaseImage] = field(default_factory=list)
    settings: list[BuildSetting] = field(default_factory=list)
    #: (line, why) of lines the reader could not read
    problems: list[tuple[int, str]] = field(default_factory=list)
    #: line -> first line of the statement that holds it (continued lines)
    firsts: dict[int, int] = field(default_factory=dict)

    def summary(self) -> tuple[object, ...]:
        """What the file says, without where (for checking that notes changed nothing)."""
        return ([(r.name, r.text, r.url) for r in self.requirements],
                [i.url for i in self.indexes], [i.image for i in self.images],
                [(s.name, s.value) for s in self.settings])
