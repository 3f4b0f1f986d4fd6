"""``OUT/.covo-port/manifest.json``: what apply did, read back by ``diff`` and ``verify``."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from covo_port.model import (
    Change,
    FileKind,
    FileStatus,
    Finding,
    Severity,
    Suppressed,
    SuppressedKind,
    UserError,
)
from covo_port.model.target import TARGETS

MANIFEST_DIR = ".covo-port"
MANIFEST_NAME = "manifest.json"
SCHEMA = 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _plain(value: Any) -> Any:
    """``value`` with enums as their values (what JSON holds)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def escape_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (a byte of a file name that is not UTF-8) written as
    its escape ``\\udcff``: what is printed or written stays valid UTF-8."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(data: Any, indent: int | None = 2) -> str:
    """JSON text that is valid UTF-8 whatever the file names: a name that is not UTF-8 (its
    bytes held as lone surrogates) stays a JSON escape (``\\udcff``), as in the manifest."""
    return escape_surrogates(json.dumps(data, indent=indent, ensure_ascii=False))


def check_path(path: Any) -> str:
    """``path`` if it names a file inside OUT (relative, no ``..``, no empty or ``.`` part);
    ValueError otherwise: a crafted manifest never makes covo-port read outside OUT."""
    if not isinstance(path, str) or not path or "\0" in path:
        raise ValueError(f"bad file path {path!r}")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):  # also an absolute path: an empty first part
        raise ValueError(f"file path {path!r} is not inside OUT")
    return path


def _finding(data: dict[str, Any]) -> Finding:
    fix = data.get("fix")
    return Finding(**{**data, "severity": Severity(data["severity"]),
                      "fix": Change(**fix) if fix is not None else None})


class ManifestError(UserError):
    """A folder without a (readable) manifest: not something ``apply`` wrote."""


@dataclass
class FileRecord:
    path: str
    kind: FileKind
    status: FileStatus
    mode: int = 0
    source_sha256: str | None = None
    output_sha256: str | None = None
    rules: list[str] = field(default_factory=list)
    link: str | None = None
    error: str | None = None
    #: why the rules left this file alone (status ``excluded``): a pattern, a .gitignore, a
    #: "generated" marker
    excluded: str | None = None


@dataclass
class Manifest:
    version: str
    target: str
    source: str
    device_map: dict[int, int] = field(default_factory=dict)
    source_commit: str | None = None
    source_dirty: bool = False
    rules: list[str] = field(default_factory=list)
    optimize: list[str] = field(default_factory=list)
    #: Whether the fixes that rules mark unsafe were applied (``apply --unsafe-fixes``).
    unsafe_fixes: bool = False
    #: Each rule of the run -> the safety of its fixes (safe, unsafe, report).
    fix_safety: dict[str, str] = field(default_factory=dict)
    files: list[FileRecord] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: findings and rewrites switched off by `# covo-port: ignore` comments in the source
    suppressed: list[Suppressed] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = _plain(asdict(self))
        data = {"tool": "covo-port", "schema": SCHEMA, **data}
        data["device_map"] = {str(k): v for k, v in self.device_map.items()}
        return data

    def write(self, out: Path) -> Path:
        folder = out / MANIFEST_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / MANIFEST_NAME
        path.write_text(dumps(self.to_json()) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """The manifest ``data`` holds; KeyError/TypeError/ValueError where it is malformed
        (a file path outside OUT included)."""
        if data["target"] not in TARGETS:
            raise ValueError(f"unknown target {data['target']!r}")
        return cls(
            version=data["version"],
            target=data["target"],
            source=data["source"],
            device_map={int(k): v for k, v in data.get("device_map", {}).items()},
            source_commit=data.get("source_commit"),
            source_dirty=data.get("source_dirty", False),
            rules=list(data.get("rules", [])),
            optimize=list(data.get("optimize", [])),
            unsafe_fixes=bool(data.get("unsafe_fixes", False)),
            fix_safety=dict(data.get("fix_safety", {})),
            files=[FileRecord(**{**f, "path": check_path(f["path"]),
                                 "kind": FileKind(f["kind"]), "status": FileStatus(f["status"])})
                   for f in data.get("files", [])],
            changes=[Change(**c) for c in data.get("changes", [])],
            findings=[_finding(f) for f in data.get("findings", [])],
            suppressed=[Suppressed(**{**s, "kind": SuppressedKind(s["kind"])})
                        for s in data.get("suppressed", [])],
        )

    @classmethod
    def read(cls, out: Path) -> Manifest:
        path = out / MANIFEST_DIR / MANIFEST_NAME
        if not out.is_dir():
            raise ManifestError(f"{out} does not exist (run `covo-port apply` first)")
        if path.is_symlink() or path.parent.is_symlink():
            raise ManifestError(f"{path} is a link: not a manifest that apply wrote")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(
                f"{out} has no {MANIFEST_DIR}/{MANIFEST_NAME}: not an output of `covo-port apply`"
            ) from None
        except (OSError, ValueError) as exc:
            raise ManifestError(f"{path}: unreadable manifest ({exc})") from None
        if not isinstance(data, dict) or data.get("tool") != "covo-port":
            raise ManifestError(f"{path} was not written by covo-port")
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f"{path}: malformed manifest ({exc})") from None
