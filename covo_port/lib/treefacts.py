"""Facts of a tree that rules gather from the raw bytes of its files (``Rule.tree_words``):
which modules a file imports, and by which dotted names a file can be imported."""

from __future__ import annotations

import posixpath
import re

#: The prefix of the words that name an imported module (``import:torch.nn``).
IMPORT = "import:"
_IMPORT_LINE = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]*\(?([\w \t,]*)|import[ \t]+([\w.]+))",
    re.M)


def imported_modules(path: str, data: bytes) -> set[str]:
    """The modules a file imports (relative imports made absolute from its path); for ``from
    pkg import name`` also ``pkg.name``, which is a module where ``name`` is a submodule."""
    found = set()
    package = posixpath.dirname(path).split("/") if posixpath.dirname(path) else []
    for relative, names, plain in _IMPORT_LINE.findall(data):
        name = (relative or plain).decode("ascii", errors="replace")
        dots = len(name) - len(name.lstrip("."))
        if dots:
            base = package[:len(package) - dots + 1] if dots <= len(package) + 1 else []
            name = ".".join([*base, name.lstrip(".")]).strip(".")
        if name:
            found.add(name)
        for part in names.decode("ascii", errors="replace").split(","):
            member = part.split()[0] if part.split() else ""
            if member.isidentifier() and member != "import":
                found.add(f"{name}.{member}" if name else member)
    return found


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


def imports_at_module_level(data: bytes, packages: set[str]) -> bool:
    """Whether the file imports one of ``packages`` outside its functions (at its top level,
    or under a module-level ``try``/``if``)."""
    for match in _IMPORT_LINE.finditer(data):
        name = (match.group(1) or match.group(3) or b"").decode("ascii", errors="replace")
        if name.lstrip(".").split(".", 1)[0] in packages and not name.startswith(".") and (
                not in_function(data, match.start())):
            return True
    return False


def module_names(path: str) -> set[str]:
    """The dotted names a file can be imported by (``src/pkg/m.py``: pkg.m, m, src.pkg.m)."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return {".".join(parts[i:]) for i in range(len(parts))}
