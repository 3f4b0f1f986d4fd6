"""What Python's own parser says of a file before libcst sees it, and one-line messages for
files that cannot be rewritten."""

from __future__ import annotations

import ast
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst


def parse_error_message(source: bytes, exc: Exception) -> tuple[int, str]:
    """(line, one-line message) for a parse failure, in Python's own words where it has some."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except SyntaxError as syntax:
        return syntax.lineno or 1, f"{type(syntax).__name__}: {syntax.msg}"
    except (ValueError, RecursionError, MemoryError) as other:
        return 1, f"{type(other).__name__}: {other}".splitlines()[0]
    if isinstance(exc, cst.ParserSyntaxError):
        return exc.raw_line, "libcst cannot parse it: " + str(exc).strip().splitlines()[0]
    return 1, f"{type(exc).__name__}: {exc}".splitlines()[0]


#: libcst takes about 0.9 GB of memory per MB of Python (and minutes): larger files, generated
#: tables rather than code that a port changes, are copied unchanged with a warning.
MAX_PYTHON_BYTES = 2 * 1024 * 1024

#: libcst's native parser overflows its stack (which kills the process) on nesting that Python
#: accepts, e.g. an ``and`` chain of ~5000 terms; its Python side hits the recursion limit far
#: earlier, so a file nested deeper than this is refused before libcst sees it.
MAX_NESTING = 1000


#: A string literal or docstring, as Python's parser places it: (line, column, end line, end
#: column), lines from 1, columns in bytes of the line's UTF-8.
Span = tuple[int, int, int, int]


@dataclass(frozen=True)
class Verdict:
    """What Python's own parser says of a file, once per file (see :func:`python_verdict`)."""

    #: The line where the file is refused, else the line nested deepest.
    line: int
    #: Why the file is refused; None: go ahead.
    refusal: str | None = None
    #: Whether Python parsed it (else the spans below are unknown, and libcst has its say).
    parsed: bool = False
    #: Every str/bytes literal (f-strings whole).
    strings: tuple[Span, ...] = ()
    #: The string literals that are statements of their own: docstrings.
    docstrings: tuple[Span, ...] = ()
    #: Python's tree of the file, for the cheap pass and the bindings of its names.
    tree: ast.Module | None = field(default=None, compare=False, repr=False)


#: Fields that hold only operator and context singletons (``Load``, ``Add``...): leaves that
#: neither nest nor hold strings, a third of the nodes of a typical tree.
_OPERATORS = frozenset({"ctx", "op", "ops"})
#: node class -> its fields that may hold nodes worth a visit
_FIELDS: dict[type, tuple[str, ...]] = {}


def _span(node: ast.expr) -> Span:
    return (node.lineno, node.col_offset, node.end_lineno or node.lineno,
            node.end_col_offset or 0)


def python_verdict(source: bytes) -> Verdict:
    """What Python's own parser says before libcst sees ``source``.

    ``refusal`` is None to go ahead, ``line`` then being the line nested deepest (for a
    RecursionError in libcst later); otherwise the file is refused at ``line``: a null byte, or
    nesting beyond Python's limits or beyond :data:`MAX_NESTING`. Other syntax errors are left to
    libcst, which knows newer grammar than the running Python may. The same walk of Python's
    tree finds the string literals and docstrings (for the cheap pass, see engines.python.cheap).
    """
    if b"\0" in source:
        return Verdict(source.count(b"\n", 0, source.index(b"\0")) + 1,
                       "cannot parse: a null byte in the source (Python refuses it too)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes etc.: not this tool's business
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            if (exc.msg or "").startswith("too many") or "too complex" in (exc.msg or ""):
                return Verdict(exc.lineno or 1, f"cannot parse: {type(exc).__name__}: {exc.msg}")
            return Verdict(1)
        except (RecursionError, MemoryError) as exc:
            return Verdict(1, f"cannot parse: too deeply nested ({type(exc).__name__} in "
                           "Python's own parser too)")
        except ValueError:
            return Verdict(1)  # libcst reports it in its own words
    depth, line = 0, 1
    strings: list[ast.expr] = []
    docstrings: list[ast.expr] = []
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    push, pop = stack.append, stack.pop
    while stack:
        node, level = pop()
        kind = type(node)
        if kind is ast.BoolOp:  # flat in Python's tree, one level per link in libcst's
            level += len(node.values) - 1  # type: ignore[attr-defined]
        elif kind is ast.Constant:
            if isinstance(node.value, (str, bytes)):  # type: ignore[attr-defined]
                strings.append(node)  # type: ignore[arg-type]
        elif kind is ast.JoinedStr:
            strings.append(node)  # type: ignore[arg-type]
        elif kind is ast.Expr:
            value = node.value  # type: ignore[attr-defined]
            if type(value) is ast.Constant and isinstance(value.value, str):
                docstrings.append(value)
        if level > depth:
            depth, line = level, getattr(node, "lineno", line)
        level += 1
        fields = _FIELDS.get(kind)
        if fields is None:
            fields = _FIELDS[kind] = tuple(f for f in kind._fields if f not in _OPERATORS)
        for name in fields:  # ast.iter_child_nodes, without a generator per node
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        push((item, level))
            elif isinstance(value, ast.AST):
                push((value, level))
    if depth > MAX_NESTING:
        return Verdict(line, f"nested {depth} levels deep: more than libcst can parse safely "
                       f"({MAX_NESTING})")
    return Verdict(line, None, True, tuple(map(_span, strings)), tuple(map(_span, docstrings)),
                   tree)


def internal_error(exc: Exception) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    text = str(exc).strip().splitlines()
    detail = f": {text[0]}" if text else ""
    return f"internal error ({type(exc).__name__}{detail}{where}; please report)"
