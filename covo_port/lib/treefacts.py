"""Facts of a tree that rules gather from the raw bytes of its files (``Rule.tree_words``):
which modules a file imports, and by which dotted names a file can be imported."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

#: The prefix of the words that name an imported module (``import:torch.nn``).
IMPORT = "import:"
_IMPORT_LINE = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]*\(?([\w \t,]*)|import[ \t]+([\w.]+))",
    re.M)

#: (source, path) -> what :func:`_scan` found: the last file's, since several rules ask about
#: the same file one after the other (``Rule.tree_words``)
_last: tuple[bytes, str, tuple[frozenset[str], tuple[tuple[str, int], ...]]] | None = None


def _import_lines(data: bytes) -> Iterator[re.Match[bytes]]:
    """``_IMPORT_LINE.finditer(data)``, tried only on the lines that hold "import" (a match
    never spans lines): several times faster on a large tree."""
    start = 0
    while (found := data.find(b"import", start)) != -1:
        line = data.rfind(b"\n", 0, found) + 1
        match = _IMPORT_LINE.match(data, line)
        if match is not None:
            yield match
        end = data.find(b"\n", found)
        if end == -1:
            return
        start = end + 1


def _scan(path: str, data: bytes) -> tuple[frozenset[str], tuple[tuple[str, int], ...]]:
    """(the modules ``data`` imports, see :func:`imported_modules`; the module of each import
    line as written, with its offset)."""
    global _last
    if _last is not None and _last[0] is data and _last[1] == path:
        return _last[2]
    found = set()
    lines = []
    package = posixpath.dirname(path).split("/") if posixpath.dirname(path) else []
    for match in _import_lines(data):
        relative, names, plain = match.groups()
        written = (relative or plain or b"").decode("ascii", errors="replace")
        lines.append((written, match.start()))
        name = written
        dots = len(name) - len(name.lstrip("."))
        if dots:
            base = package[:len(package) - dots + 1] if dots <= len(package) + 1 else []
            name = ".".join([*base, name.lstrip(".")]).strip(".")
        if name:
            found.add(name)
        for part in (names or b"").decode("ascii", errors="replace").split(","):
            member = part.split()[0] if part.split() else ""
            if member.isidentifier() and member != "import":
                found.add(f"{name}.{member}" if name else member)
    result = frozenset(found), tuple(lines)
    _last = (data, path, result)
    return result


def imported_modules(path: str, data: bytes) -> frozenset[str]:
    """The modules a file imports (relative imports made absolute from its path); for ``from
    pkg import name`` also ``pkg.name``, which is a module where ``name`` is a submodule."""
    return _scan(path, data)[0]


def in_function(data: bytes, offset: int) -> bool:
    """Whether the line at ``offset`` stands inside a ``def`` (a lazy import), judged from the
    indentation of the lines above it."""
    start = data.rfind(b"\n", 0, offset) + 1
    line = data[start:data.find(b"\n", start) if b"\n" in data[start:] else len(data)]
    indent = len(line) - len(line.lstrip(b" \t"))
    while indent and start > 0:
        end = start - 1
        start = data.rfind(b"\n", 0, end) + 1
        above = data[start:end]
        stripped = above.lstrip(b" \t")
        depth = len(above) - len(stripped)
        if not stripped or stripped.startswith(b"#") or depth >= indent:
            continue
        if stripped.startswith((b"def ", b"async def ")):
            return True
        indent = depth
    return False


def imports_at_module_level(path: str, data: bytes, packages: set[str]) -> bool:
    """Whether the file imports one of ``packages`` outside its functions (at its top level,
    or under a module-level ``try``/``if``)."""
    return any(name.split(".", 1)[0] in packages and not in_function(data, start)
               for name, start in _scan(path, data)[1])


def module_names(path: str) -> set[str]:
    """The dotted names a file can be imported by (``src/pkg/m.py``: pkg.m, m, src.pkg.m)."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return {".".join(parts[i:]) for i in range(len(parts))}
