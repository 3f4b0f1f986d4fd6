"""What Python's own parser says of a file before libcst sees it, and one-line messages for
files that cannot be rewritten."""

from __future__ import annotations

import ast
import traceback
import warnings
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


def python_verdict(source: bytes) -> tuple[int, str | None]:
    """What Python's own parser says before libcst sees ``source``: (line, refusal).

    ``refusal`` is None to go ahead, ``line`` then being the line nested deepest (for a
    RecursionError in libcst later); otherwise the file is refused at ``line``: a null byte, or
    nesting beyond Python's limits or beyond :data:`MAX_NESTING`. Other syntax errors are left to
    libcst, which knows newer grammar than the running Python may.
    """
    if b"\0" in source:
        return (source.count(b"\n", 0, source.index(b"\0")) + 1,
                "cannot parse: a null byte in the source (Python refuses it too)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes etc.: not this tool's business
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            if (exc.msg or "").startswith("too many") or "too complex" in (exc.msg or ""):
                return exc.lineno or 1, f"cannot parse: {type(exc).__name__}: {exc.msg}"
            return 1, None
        except (RecursionError, MemoryError) as exc:
            return 1, (f"cannot parse: too deeply nested ({type(exc).__name__} in Python's own "
                       "parser too)")
        except ValueError:
            return 1, None  # libcst reports it in its own words
    depth, line = 0, 1
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, ast.BoolOp):  # flat in Python's tree, one level per link in libcst's
            level += len(node.values) - 1
        if level > depth:
            depth, line = level, getattr(node, "lineno", line)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    if depth > MAX_NESTING:
        return line, (f"nested {depth} levels deep: more than libcst can parse safely "
                      f"({MAX_NESTING})")
    return line, None


def internal_error(exc: Exception) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    text = str(exc).strip().splitlines()
    detail = f": {text[0]}" if text else ""
    return f"internal error ({type(exc).__name__}{detail}{where}; please report)"
