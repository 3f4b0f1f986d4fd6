"""The rule model: the bottom layer (it imports no other part of covo-port).

Rules import what they declare and record from here: :class:`Rule`, :class:`PythonRule`,
:class:`Example`, :class:`Severity`, :class:`Safety`, :class:`Change`, :class:`Finding`, the
:class:`Target` and the protocols of what a rule sees of a file (Python, shell, config, build).
"""

from covo_port.model.build import BaseImage, BuildSetting, PackageIndex, Requirement
from covo_port.model.config import ConfigEntry, Scalar
from covo_port.model.errors import UserError
from covo_port.model.options import ImportStyle, RunOptions
from covo_port.model.records import (
    ENGINE_CODE,
    Category,
    Change,
    FileKind,
    FileStatus,
    Finding,
    Safety,
    Severity,
    Suppressed,
    SuppressedKind,
)
from covo_port.model.rule import (
    DECLARATION,
    DOC_SECTIONS,
    Example,
    NewNode,
    PythonRule,
    PythonSource,
    Replacement,
    Rule,
)
from covo_port.model.shell import ShellScan, VarRef, Word
from covo_port.model.sources import BuildSource, ConfigSource, ShellSource
from covo_port.model.support import SUPPORT_HEADER, SUPPORT_MODULE, SupportHelper
from covo_port.model.target import Target, TargetError, get_target, parse_device
from covo_port.model.tree import TreeIndex

__all__ = [
    "DECLARATION",
    "DOC_SECTIONS",
    "ENGINE_CODE",
    "SUPPORT_HEADER",
    "SUPPORT_MODULE",
    "BaseImage",
    "BuildSetting",
    "BuildSource",
    "Category",
    "Change",
    "ConfigEntry",
    "ConfigSource",
    "Example",
    "FileKind",
    "FileStatus",
    "Finding",
    "ImportStyle",
    "NewNode",
    "PackageIndex",
    "PythonRule",
    "PythonSource",
    "Replacement",
    "Requirement",
    "Rule",
    "RunOptions",
    "Safety",
    "Scalar",
    "Severity",
    "ShellScan",
    "ShellSource",
    "SupportHelper",
    "Suppressed",
    "SuppressedKind",
    "Target",
    "TargetError",
    "TreeIndex",
    "UserError",
    "VarRef",
    "Word",
    "get_target",
    "parse_device",
]
